// A script's SHA1 is what EVALSHA names it by: computed once, here.
#include <openssl/evp.h>

#include <stdexcept>

#include "jobrelay/redis/client.hpp"

namespace jobrelay::redis {

namespace {

std::string sha1_hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // Scripts are built at start-up, so failing loudly here is allowed.
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA1 unavailable in OpenSSL");
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0x0f]);
  }
  return out;
}

}  // namespace

script::script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

}  // namespace jobrelay::redis
