#include "jobrelay/fixed_code_gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

namespace jobrelay {
namespace {

// A Huffman code or a code with its extra bits, ready for an LSB-first bit
// stream: deflate sends Huffman codes from their most significant bit, so
// they are stored bit-reversed.
struct bit_string {
  std::uint32_t bits = 0;
  std::uint8_t length = 0;
};

constexpr std::uint32_t reversed(std::uint32_t value, int length) {
  std::uint32_t r = 0;
  for (int i = 0; i < length; ++i) r = (r << 1) | ((value >> i) & 1u);
  return r;
}

// RFC 1951 3.2.6: the fixed literal/length code.
constexpr std::array<bit_string, 288> literal_length_code = [] {
  std::array<bit_string, 288> t{};
  for (std::uint32_t s = 0; s < 288; ++s) {
    if (s < 144)
      t[s] = {reversed(0x30 + s, 8), 8};
    else if (s < 256)
      t[s] = {reversed(0x190 + s - 144, 9), 9};
    else if (s < 280)
      t[s] = {reversed(s - 256, 7), 7};
    else
      t[s] = {reversed(0xC0 + s - 280, 8), 8};
  }
  return t;
}();
constexpr std::uint32_t end_of_block = 256;

// RFC 1951 3.2.5: what each length and distance code stands for.
constexpr std::array<std::uint16_t, 29> length_base = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                                       15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                                       67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr std::array<std::uint8_t, 29> length_extra = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                                       2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr std::array<std::uint16_t, 30> distance_base = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr std::array<std::uint8_t, 30> distance_extra = {0, 0, 0,  0,  1,  1,  2,  2,  3,  3,
                                                         4, 4, 5,  5,  6,  6,  7,  7,  8,  8,
                                                         9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
constexpr std::size_t min_match = 4;  // what one hash probe compares
constexpr std::size_t max_match = 258;
constexpr std::size_t max_distance = 32768;

// Each match length 3..258 as its code followed by its extra bits.
constexpr std::array<bit_string, max_match + 1> length_bits = [] {
  std::array<bit_string, max_match + 1> t{};
  for (std::size_t i = 0; i < length_base.size(); ++i) {
    // Code 284 ends at 257: 258 has a code of its own (285).
    const std::uint32_t last = i + 1 < length_base.size() ? length_base[i + 1] - 1u : 258u;
    const bit_string c = literal_length_code[257 + i];
    for (std::uint32_t len = length_base[i]; len <= last; ++len)
      t[len] = {c.bits | ((len - length_base[i]) << c.length),
                static_cast<std::uint8_t>(c.length + length_extra[i])};
  }
  return t;
}();

// The distance code of distance-1: direct below 256, else by its top bits
// (from code 16 on every code spans a multiple of 128), as zlib does.
constexpr std::array<std::uint8_t, 512> distance_code_index = [] {
  std::array<std::uint8_t, 512> t{};
  for (std::uint32_t c = 0; c < distance_base.size(); ++c) {
    const std::uint32_t end =
        c + 1 < distance_base.size() ? distance_base[c + 1] - 1u : max_distance;
    for (std::uint32_t x = distance_base[c] - 1u; x < end; ++x)
      t[x < 256 ? x : 256 + (x >> 7)] = static_cast<std::uint8_t>(c);
  }
  return t;
}();

bit_string distance_bits(std::uint32_t distance) {
  const std::uint32_t x = distance - 1;
  const std::uint32_t c = distance_code_index[x < 256 ? x : 256 + (x >> 7)];
  // Fixed distance codes are plain 5-bit numbers.
  return {reversed(c, 5) | ((distance - distance_base[c]) << 5),
          static_cast<std::uint8_t>(5 + distance_extra[c])};
}

std::uint32_t load32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// How far the bytes at `a` and `b` agree, up to `limit`.
std::size_t common_length(const unsigned char* a, const unsigned char* b, std::size_t limit) {
  std::size_t n = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; n + 8 <= limit; n += 8) {
      if (const std::uint64_t diff = load64(a + n) ^ load64(b + n))
        return n + static_cast<std::size_t>(std::countr_zero(diff)) / 8;
    }
  }
  while (n < limit && a[n] == b[n]) ++n;
  return n;
}

// Bits into bytes, least significant first (RFC 1951 3.1.1).
class bit_writer {
 public:
  explicit bit_writer(unsigned char* out) : out_(out) {}

  // At most 32 bits at a time; fewer than 32 are ever held between calls.
  void put(bit_string s) {
    pending_ |= static_cast<std::uint64_t>(s.bits) << held_;
    held_ += s.length;
    if (held_ >= 32) {
      for (int i = 0; i < 4; ++i) *out_++ = static_cast<unsigned char>(pending_ >> (8 * i));
      pending_ >>= 32;
      held_ -= 32;
    }
  }

  // Pads the last byte with zero bits; returns the end of the output.
  unsigned char* finish() {
    for (; held_ > 0; held_ -= 8, pending_ >>= 8) *out_++ = static_cast<unsigned char>(pending_);
    held_ = 0;
    return out_;
  }

 private:
  unsigned char* out_;
  std::uint64_t pending_ = 0;
  int held_ = 0;
};

void put_le32(unsigned char* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

void append_fixed_code_gzip(std::string& out, std::string_view data) {
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  // Header (no name, no time), a block of at most 9 bits a byte plus its
  // 3-bit head and 7-bit end, the CRC-32 and length trailer.
  constexpr std::size_t header_size = 10, trailer_size = 8;
  const std::size_t start = out.size();
  out.resize(start + header_size + n + n / 8 + 4 + trailer_size);
  auto* const head = reinterpret_cast<unsigned char*>(out.data() + start);
  constexpr unsigned char gzip_header[header_size] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  std::memcpy(head, gzip_header, header_size);

  bit_writer bits(head + header_size);
  bits.put({0b011, 3});  // BFINAL, then BTYPE 01: fixed codes

  // The last position each 4-byte hash was seen at, refilled per document
  // so the same document always gives the same bytes. Sized to it (4 to
  // 16 KB): a bigger table finds few more matches in a small document and
  // only pushes more of the caller's data out of cache.
  constexpr int max_hash_bits = 12;
  const int hash_bits = std::clamp(static_cast<int>(std::bit_width(n)), 10, max_hash_bits);
  constexpr std::uint32_t unseen = std::numeric_limits<std::uint32_t>::max();
  std::array<std::uint32_t, std::size_t{1} << max_hash_bits> last_seen;
  std::fill_n(last_seen.begin(), std::size_t{1} << hash_bits, unseen);

  std::size_t pos = 0;
  while (pos + min_match <= n) {
    const std::uint32_t word = load32(in + pos);
    const std::uint32_t slot = (word * 2654435761u) >> (32 - hash_bits);
    const std::uint32_t seen = last_seen[slot];
    last_seen[slot] = static_cast<std::uint32_t>(pos);
    if (seen != unseen && pos - seen <= max_distance && load32(in + seen) == word) {
      const std::size_t length =
          min_match + common_length(in + seen + min_match, in + pos + min_match,
                                    std::min(max_match, n - pos) - min_match);
      bits.put(length_bits[length]);
      bits.put(distance_bits(static_cast<std::uint32_t>(pos - seen)));
      pos += length;
    } else {
      bits.put(literal_length_code[in[pos++]]);
    }
  }
  for (; pos < n; ++pos) bits.put(literal_length_code[in[pos]]);
  bits.put(literal_length_code[end_of_block]);
  unsigned char* end = bits.finish();

  // zlib's crc32 takes an int-sized length: fed in chunks for huge inputs.
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t done = 0; done < n;) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n - done, 1u << 30));
    crc = crc32(crc, in + done, chunk);
    done += chunk;
  }
  put_le32(end, static_cast<std::uint32_t>(crc));
  put_le32(end + 4, static_cast<std::uint32_t>(n));  // ISIZE: the length mod 2^32
  out.resize(
      static_cast<std::size_t>(end + trailer_size - reinterpret_cast<unsigned char*>(out.data())));
}

}  // namespace jobrelay
