// Per-client token buckets for one limit (rate_limit.submit or .poll), safe
// to call from every I/O thread, with memory bounded however many distinct
// clients show up (API.md "Rate limiting": idle buckets are dropped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/limit/decision.hpp"
#include "jobrelay/limit/token_bucket.hpp"

namespace jobrelay::limit {

class rate_limiter {
 public:
  struct options {
    std::size_t shards = 16;
    // Total buckets held at most; past it, the least recently used go first.
    std::size_t max_entries = 65536;
    // A shard holding at least this many buckets drops refilled ones before
    // it inserts; per shard, so lazy sweeping stays cheap.
    std::size_t sweep_threshold_per_shard = 256;
  };

  rate_limiter(rate_spec spec, const clock& clk);
  rate_limiter(rate_spec spec, const clock& clk, options opts);
  rate_limiter(const rate_limiter&) = delete;
  rate_limiter& operator=(const rate_limiter&) = delete;
  ~rate_limiter();

  // Takes one token from the client's bucket.
  decision check(std::string_view client_id);

  // Drops every bucket that has refilled completely; for a periodic timer.
  // Returns how many were dropped.
  std::size_t sweep();

  std::size_t size() const;
  const rate_spec& spec() const { return spec_; }

 private:
  struct shard;

  shard& shard_for(std::string_view client_id);

  rate_spec spec_;
  const clock& clock_;
  std::size_t cap_per_shard_;
  std::size_t sweep_threshold_;
  std::vector<std::unique_ptr<shard>> shards_;
};

}  // namespace jobrelay::limit
