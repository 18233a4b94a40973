#include "jobrelay/api/auth.hpp"
#include "jobrelay/text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <charconv>
#include <stdexcept>

namespace jobrelay::api {
namespace {

std::string sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += alphabet[(acc >> bits) & 0x3f];
    }
  }
  if (bits > 0) out += alphabet[(acc << (6 - bits)) & 0x3f];
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

api_keys::api_keys(const std::vector<std::string>& keys) {
  for (const auto& k : keys) digests_.push_back(sha256(k));
}

std::optional<std::string> api_keys::authenticate(std::string_view authorization) const {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() ||
      !iequals_ascii(authorization.substr(0, scheme.size()), scheme))
    return std::nullopt;
  // Digests have one length, so the comparison cannot leak the key's length.
  const auto presented = sha256(authorization.substr(scheme.size()));
  std::optional<std::string> match;
  for (const auto& d : digests_)
    if (equal_constant_time(presented, d)) match = "key_" + base64url(std::string_view(d).substr(0, 12));
  return match;
}

link_tokens::link_tokens(std::string secret) : secret_(std::move(secret)) {
  if (secret_.empty()) {
    secret_.resize(32);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), 32) != 1)
      throw std::runtime_error("CSPRNG unavailable for auth.link_secret");
  }
}

std::string link_tokens::mac(std::string_view job_id, std::string_view expiry) const {
  const std::string message = std::string(job_id) + "." + std::string(expiry);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len);
  return base64url(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string link_tokens::issue(std::string_view job_id, system_time expires) const {
  const auto expiry = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(expires.time_since_epoch()).count());
  return expiry + "." + mac(job_id, expiry);
}

bool link_tokens::verify(std::string_view job_id, std::string_view token, system_time now) const {
  const auto dot = token.find('.');
  if (dot == token.npos || dot > 20) return false;
  const auto expiry = token.substr(0, dot);
  long long seconds = 0;
  const auto [ptr, ec] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), seconds);
  if (ec != std::errc() || ptr != expiry.data() + expiry.size()) return false;
  if (std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() > seconds)
    return false;
  return equal_constant_time(mac(job_id, expiry), token.substr(dot + 1));
}

}  // namespace jobrelay::api
