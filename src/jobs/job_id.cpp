#include "jobrelay/jobs/job_id.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace jobrelay::jobs {
namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::size_t id_chars = 22;  // ceil(128 / 6)

constexpr std::size_t id_bytes = 17;  // 136 bits; 132 of them are used

// CSPRNG bytes drawn 256 ids at a time: every RAND_bytes call costs a getpid()
// (OpenSSL's fork check), a syscall per job otherwise. jobrelay never forks
// without exec, so no two processes can share a buffer.
class random_pool {
 public:
  const unsigned char* next() {
    if (used_ == buffer_.size()) {
      if (RAND_bytes(buffer_.data(), static_cast<int>(buffer_.size())) != 1)
        throw std::runtime_error("CSPRNG unavailable");  // the process cannot serve safely
      used_ = 0;
    }
    const unsigned char* out = buffer_.data() + used_;
    used_ += id_bytes;
    return out;
  }

 private:
  std::array<unsigned char, id_bytes * 256> buffer_{};
  std::size_t used_ = buffer_.size();
};

}  // namespace

std::string new_job_id() {
  thread_local random_pool pool;
  const unsigned char* bytes = pool.next();
  // Spelled into a buffer and copied once: a job id is made per POST.
  std::array<char, 2 + id_chars> id{'j', '_'};
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (std::size_t at = 2; at < id.size(); ++at) {
    if (bits < 6) {
      acc = (acc << 8) | bytes[i++];
      bits += 8;
    }
    bits -= 6;
    id[at] = alphabet[(acc >> bits) & 0x3f];
  }
  return std::string(id.data(), id.size());
}

bool is_valid_job_id(std::string_view id) {
  // A table of the alphabet's bytes: checked on every poll.
  static constexpr auto in_alphabet = [] {
    std::array<bool, 256> table{};
    for (const char c : std::string_view(alphabet)) table[static_cast<unsigned char>(c)] = true;
    return table;
  }();
  if (id.size() != 2 + id_chars || id[0] != 'j' || id[1] != '_') return false;
  bool ok = true;
  for (const char c : id.substr(2)) ok &= in_alphabet[static_cast<unsigned char>(c)];
  return ok;
}

}  // namespace jobrelay::jobs
