// Optional API-key auth (API.md "Auth") and the link tokens that let a
// browser's EventSource, which cannot send headers, open one job's stream.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobrelay/clock.hpp"

namespace jobrelay::api {

class api_keys {
 public:
  explicit api_keys(const std::vector<std::string>& keys);
  bool enabled() const { return !digests_.empty(); }

  // For "Bearer <key>" with a configured key: a stable id of that key (never
  // the key itself), which owns the jobs it creates. Every configured key is
  // compared, in constant time, so timing tells nothing about near misses.
  std::optional<std::string> authenticate(std::string_view authorization) const;

 private:
  std::vector<std::string> digests_;  // SHA-256 of each key
};

class link_tokens {
 public:
  // An empty secret is replaced by a random one (tokens then die with the process).
  explicit link_tokens(std::string secret);
  // "<expiry unix seconds>.<base64url HMAC-SHA256(secret, id.expiry)>"
  std::string issue(std::string_view job_id, system_time expires) const;
  bool verify(std::string_view job_id, std::string_view token, system_time now) const;

 private:
  std::string mac(std::string_view job_id, std::string_view expiry) const;
  std::string secret_;
};

}  // namespace jobrelay::api
