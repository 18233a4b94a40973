// One client's token bucket (API.md "Rate limiting") as a plain value, so the
// arithmetic is tested apart from the map that holds many of them.
#pragma once

#include <chrono>
#include <cstdint>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"

namespace jobrelay::limit {

struct take_result {
  bool allowed = true;
  std::uint64_t remaining = 0;  // whole tokens left after this request
  // Until one token is available: zero while tokens remain; for a rejected
  // request, the smallest wait after which the same request is allowed.
  std::chrono::nanoseconds retry_after{0};
  std::chrono::nanoseconds reset{0};  // until the bucket is full again
};

struct token_bucket {
  double tokens = 0;
  steady_time last_refill{};

  // A client never seen before starts with a full bucket.
  static token_bucket full(const rate_spec& spec, steady_time now);

  // Refills for the time since last_refill, then takes one token if there is
  // one. A spec with rate 0 is unlimited: always allowed, the bucket untouched.
  take_result try_take(steady_time now, const rate_spec& spec);

  // When the bucket will hold `burst` tokens again if left alone; from then on
  // it is indistinguishable from a missing bucket.
  steady_time full_at(const rate_spec& spec) const;
};

}  // namespace jobrelay::limit
