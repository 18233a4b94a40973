#include "jobrelay/http/request_id.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace jobrelay::http {

bool is_valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' ||
                    c == '=' || c == '@';
    if (!ok) return false;
  }
  return true;
}

namespace {

// splitmix64: a full-period 64-bit generator, fine for ids that only need to
// be distinct (job ids, which must be unguessable, come from the CSPRNG).
std::uint64_t next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void new_request_id(std::string& id) {
  thread_local std::uint64_t state = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  // Two hex digits per step from a table: made for every request.
  static constexpr auto byte_hex = [] {
    constexpr char hex[] = "0123456789abcdef";
    std::array<char, 512> table{};
    for (int b = 0; b < 256; ++b) {
      table[2 * b] = hex[b >> 4];
      table[2 * b + 1] = hex[b & 0xf];
    }
    return table;
  }();
  char out[32];
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = next(state);
    for (int i = 0; i < 8; ++i, v >>= 8) {
      out[half * 16 + 2 * i] = byte_hex[2 * (v & 0xff)];
      out[half * 16 + 2 * i + 1] = byte_hex[2 * (v & 0xff) + 1];
    }
  }
  id.assign(out, sizeof out);
}

std::string new_request_id() {
  std::string id;
  new_request_id(id);
  return id;
}

}  // namespace jobrelay::http
