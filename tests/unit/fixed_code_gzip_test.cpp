#include "jobrelay/fixed_code_gzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

using jobrelay::append_fixed_code_gzip;

namespace {

// zlib's inflate checks the gzip header, every code, the CRC-32 and the length.
std::string gunzip(const std::string& packed, std::size_t expected_size) {
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::string out(expected_size + 16, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  zs.avail_in = static_cast<uInt>(packed.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  EXPECT_EQ(rc, Z_STREAM_END) << (zs.msg ? zs.msg : "");
  EXPECT_EQ(zs.avail_in, 0u) << "bytes after the gzip member";
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

std::string packed(std::string_view data) {
  std::string out;
  append_fixed_code_gzip(out, data);
  return out;
}

std::string random_bytes(std::mt19937& rng, std::size_t n, int alphabet = 256) {
  std::uniform_int_distribution<int> byte(0, alphabet - 1);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(byte(rng));
  return s;
}

}  // namespace

TEST(FixedCodeGzip, ShortAndEdgeInputsComeBackIntact) {
  for (const std::string_view s :
       {std::string_view(""), std::string_view("a"), std::string_view("ab"),
        std::string_view("abc"), std::string_view("abcd"), std::string_view("abcdabcd"),
        std::string_view("\0\0\0\0\0", 5), std::string_view("\xff\xfe\x90\x8f")}) {
    EXPECT_EQ(gunzip(packed(s), s.size()), s) << s.size();
  }
}

TEST(FixedCodeGzip, WritesAPlainGzipHeaderAndAppendsToWhatIsThere) {
  std::string out = "prefix";
  append_fixed_code_gzip(out, "hello, hello, hello");
  ASSERT_GT(out.size(), 6u + 18u);
  EXPECT_EQ(out.substr(0, 6), "prefix");
  const auto* g = reinterpret_cast<const unsigned char*>(out.data() + 6);
  EXPECT_EQ(g[0], 0x1f);
  EXPECT_EQ(g[1], 0x8b);
  EXPECT_EQ(g[2], 8);  // deflate
  EXPECT_EQ(g[3], 0);  // no name, comment or extra field
  EXPECT_EQ(gunzip(out.substr(6), 19), "hello, hello, hello");
}

// A job's document: JSON compresses, and comes back byte for byte.
TEST(FixedCodeGzip, CompressesAJobDocument) {
  std::string doc = R"({"id":"j_gY4y18XQcklyQTkNDy8zlz","status":"succeeded","result":{"items":[)";
  for (int i = 0; i < 20; ++i)
    doc += R"({"label":"positive","score":0.)" + std::to_string(100 + i * 37) +
           R"(,"kind":"sentence"},)";
  doc += R"({}]}})";
  const auto out = packed(doc);
  EXPECT_EQ(gunzip(out, doc.size()), doc);
  EXPECT_LT(out.size(), doc.size() / 2);
}

// Every length code (4..258 here: matches start at 4 bytes) with its extra
// bits: a random block, a byte that differs, then the block again and
// another different byte, so the match is exactly the block's length. The
// control (a different second block) shows the match was taken.
TEST(FixedCodeGzip, EveryMatchLengthDecodes) {
  std::mt19937 rng(7);
  for (std::size_t length = 4; length <= 258; ++length) {
    const auto block = random_bytes(rng, length);
    const auto input = block + '\x01' + block + '\x02';
    const auto control = block + '\x01' + random_bytes(rng, length) + '\x02';
    const auto out = packed(input);
    ASSERT_EQ(gunzip(out, input.size()), input) << length;
    EXPECT_LT(out.size() + length / 2, packed(control).size()) << length;
  }
  const std::string run(100000, 'a');  // matches of 258 at distance 1
  const auto out = packed(run);
  EXPECT_EQ(gunzip(out, run.size()), run);
  EXPECT_LT(out.size(), 1500u);
}

// Every distance code, at both ends of its range: 64 random bytes, zeros up
// to the distance (coded as runs, which leave the random bytes' hashes in
// place), then the 64 bytes again.
TEST(FixedCodeGzip, EveryMatchDistanceDecodes) {
  std::mt19937 rng(11);
  const int bases[] = {1,    2,    3,    4,    5,    7,    9,    13,    17,    25,
                       33,   49,   65,   97,   129,  193,  257,  385,   513,   769,
                       1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  std::vector<std::size_t> distances;
  for (std::size_t i = 0; i < std::size(bases); ++i) {
    distances.push_back(static_cast<std::size_t>(bases[i]));
    distances.push_back(i + 1 < std::size(bases) ? static_cast<std::size_t>(bases[i + 1] - 1)
                                                 : 32768);
  }
  for (const std::size_t distance : distances) {
    std::string input, control;
    if (distance < 128) {
      // A short block repeated: every copy matches the one before.
      const auto block = random_bytes(rng, distance);
      while (input.size() < 4000) input += block;
      control = random_bytes(rng, input.size());
    } else {
      const auto head = random_bytes(rng, 64);
      const std::string zeros(distance - 64, '\0');
      input = head + zeros + head;
      control = head + zeros + random_bytes(rng, 64);
    }
    // Something after the match, so a code one bit off shows.
    input += "#end";
    control += "#end";
    const auto out = packed(input);
    ASSERT_EQ(gunzip(out, input.size()), input) << distance;
    EXPECT_LT(out.size() + 32, packed(control).size()) << distance;
  }
}

// Matches are never reached for past 32 KiB back (the deflate window).
TEST(FixedCodeGzip, RepeatsFartherThanTheWindowAreSentAsLiterals) {
  std::mt19937 rng(13);
  const auto head = random_bytes(rng, 64);
  for (const std::size_t distance : {32769u, 40000u}) {
    const std::string input = head + std::string(distance - 64, '\0') + head;
    const std::string control = head + std::string(distance - 64, '\0') + random_bytes(rng, 64);
    const auto out = packed(input);
    EXPECT_EQ(gunzip(out, input.size()), input);
    EXPECT_GE(out.size() + 16, packed(control).size()) << distance;  // no cheaper than unmatched
  }
}

// Incompressible bytes cost at most 9 bits each (bytes 144..255).
TEST(FixedCodeGzip, RandomBytesGrowByAtMostAnEighth) {
  std::mt19937 rng(17);
  for (const std::size_t n : {1u, 7u, 8u, 100u, 4096u, 100000u}) {
    const auto input = random_bytes(rng, n);
    const auto out = packed(input);
    EXPECT_EQ(gunzip(out, n), input);
    EXPECT_LE(out.size(), 18 + n + n / 8 + 2) << n;
  }
}

// Inputs of every size and many shapes (narrow alphabets make matches of
// all lengths and distances at once), each checked against zlib's decoder.
TEST(FixedCodeGzip, RandomInputsOfManyShapesRoundTrip) {
  std::mt19937 rng(19);
  std::uniform_int_distribution<std::size_t> size(0, 5000);
  const int alphabets[] = {1, 2, 3, 4, 16, 64, 256};
  for (int i = 0; i < 1500; ++i) {
    const auto input = random_bytes(rng, size(rng), alphabets[i % std::size(alphabets)]);
    ASSERT_EQ(gunzip(packed(input), input.size()), input) << i;
  }
}

// Nothing carries over from one document to the next: the same document
// always gives the same bytes.
TEST(FixedCodeGzip, TheSameDocumentGivesTheSameBytes) {
  std::mt19937 rng(23);
  const auto first = random_bytes(rng, 3000, 4);
  const auto second = random_bytes(rng, 3000, 4);
  const auto once = packed(first);
  EXPECT_NE(packed(second), once);
  EXPECT_EQ(packed(first), once);
}
