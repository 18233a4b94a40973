// What one rate-limit check means for the answer: the values of the
// RateLimit / RateLimit-Policy / Retry-After headers, in whole seconds. Both
// limiters (the per-replica one and the one shared through Redis) produce a
// take_result and turn it into a decision here, so a client sees the same
// headers whichever limiter counted it.
#pragma once

#include <cstdint>

#include "jobrelay/config.hpp"
#include "jobrelay/limit/token_bucket.hpp"

namespace jobrelay::limit {

struct decision {
  bool enabled = false;  // false: the limit is off (rate 0), send no RateLimit headers
  bool allowed = true;
  std::uint64_t limit = 0;                // the burst
  std::uint64_t remaining = 0;            // whole tokens left
  std::uint64_t reset_seconds = 0;        // until the bucket is full again, rounded up
  std::uint64_t retry_after_seconds = 0;  // rounded up; at least 1 when rejected
  struct policy_t {
    std::uint64_t limit = 0;           // burst
    std::uint64_t window_seconds = 0;  // burst / rate, rounded up, at least 1
  } policy;
};

// The decision for a take from a bucket of `spec`. A spec that is off (rate
// 0) gives the default decision: allowed, no headers.
decision decide(const rate_spec& spec, const take_result& taken);

}  // namespace jobrelay::limit
