#include "jobrelay/jobs/job_id.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace jobrelay::jobs {
namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t id_chars = 22;  // ceil(128 / 6)
}  // namespace

std::string new_job_id() {
  std::array<unsigned char, 17> bytes{};  // 136 bits; 132 of them are used
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("CSPRNG unavailable");  // the process cannot serve safely
  std::string id = "j_";
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  while (id.size() < 2 + id_chars) {
    if (bits < 6) {
      acc = (acc << 8) | bytes[i++];
      bits += 8;
    }
    bits -= 6;
    id += alphabet[(acc >> bits) & 0x3f];
  }
  return id;
}

bool is_valid_job_id(std::string_view id) {
  if (id.size() != 2 + id_chars || id.substr(0, 2) != "j_") return false;
  for (char c : id.substr(2)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace jobrelay::jobs
