// Per-client token buckets for one limit (submit or poll). Sharded so that
// concurrent requests from different clients rarely share a lock; memory is
// bounded because idle buckets (ones that would be full again) are dropped,
// and a hard cap evicts the stalest entries under a spray of addresses.
#pragma once

#include <array>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/limit/token_bucket.hpp"

namespace jobrelay::limit {

// What a limited response needs to say (Retry-After, later RateLimit headers).
struct decision {
  bool allowed = true;
  unsigned limit = 0;        // the burst
  unsigned remaining = 0;    // whole tokens left
  unsigned reset_seconds = 0;
  unsigned retry_after_seconds = 0;  // whole seconds, at least 1 when refused
};

class rate_limiter {
 public:
  rate_limiter(rate_spec spec, const clock& clock, std::size_t max_clients = 1 << 20);

  bool enabled() const { return spec_.enabled(); }
  const rate_spec& spec() const { return spec_; }

  decision check(std::string_view client);

  // Drops idle buckets everywhere; for a periodic timer.
  void sweep();
  std::size_t size() const;

 private:
  static constexpr std::size_t shard_count = 16;
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, token_bucket> buckets;
  };
  shard& shard_for(std::string_view client);
  void sweep_locked(shard& s, steady_time now);

  rate_spec spec_;
  const clock& clock_;
  std::size_t max_per_shard_;
  std::array<shard, shard_count> shards_;
};

}  // namespace jobrelay::limit
