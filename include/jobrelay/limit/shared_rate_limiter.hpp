// One limit (rate_limit.submit or .poll) counted in Redis, so that all
// replicas take from one token bucket per client (rate_limit.backend: redis,
// API.md "Scale-out"): with per-replica buckets, a client behind N replicas
// would get up to N times its limit. While Redis cannot answer, the replica's
// own limiter decides instead: a client may then get more than its limit
// across replicas, but is never refused, nor kept waiting, because Redis is
// down. Layout and script: shared_rate_limiter.cpp.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "jobrelay/config.hpp"
#include "jobrelay/limit/decision.hpp"

namespace jobrelay::redis {
class client;
}

namespace jobrelay::limit {

class rate_limiter;

struct shared_rate_limiter_options {
  std::string key_prefix = "jobrelay:";  // the results store's, so one Redis holds both
};

class shared_rate_limiter {
 public:
  // `name` ("submit", "poll") is part of the keys and of the log lines.
  // `fallback` is the replica's limiter for the same spec; it and `redis`
  // must outlive this.
  shared_rate_limiter(std::string name, redis::client& redis, rate_limiter& fallback,
                      shared_rate_limiter_options options = {});
  shared_rate_limiter(const shared_rate_limiter&) = delete;
  shared_rate_limiter& operator=(const shared_rate_limiter&) = delete;

  // Takes one token from the client's shared bucket: one script call, or
  // none when the limit is off. Any failure of the call (Redis down, slow
  // past the client's command timeout, an error reply) is answered by the
  // fallback limiter for this request. Never fails itself. `client_id` must
  // stay valid until the check completes.
  boost::asio::awaitable<decision> check(std::string_view client_id);

  // Checks the fallback limiter answered because Redis could not.
  std::uint64_t fallbacks() const { return fallbacks_.load(); }

  // The key of a client's bucket: <prefix>rl:<name>:<client id>.
  std::string key_for(std::string_view client_id) const;

 private:
  decision fall_back(std::string_view client_id, std::string_view why);

  std::string name_;
  redis::client& redis_;
  rate_limiter& fallback_;
  shared_rate_limiter_options options_;
  // The spec as script arguments, formatted once.
  std::string rate_arg_;
  std::string burst_arg_;
  std::atomic<bool> degraded_{false};  // logged as down; the next success logs resumption
  std::atomic<std::uint64_t> fallbacks_{0};
};

}  // namespace jobrelay::limit
