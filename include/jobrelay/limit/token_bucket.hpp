// A token bucket as a value: refilled lazily from the time of the last take,
// so an idle bucket costs nothing and a full one is the same as a missing one.
#pragma once

#include <chrono>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"

namespace jobrelay::limit {

struct bucket_decision {
  bool allowed = true;
  double remaining = 0;                    // tokens left after this take
  std::chrono::duration<double> retry_after{0};  // until one token is there (when refused)
  std::chrono::duration<double> reset{0};        // until the bucket is full again
};

struct token_bucket {
  double tokens = 0;
  steady_time updated{};

  static token_bucket full(const rate_spec& spec, steady_time now) { return {spec.burst, now}; }

  bucket_decision take(const rate_spec& spec, steady_time now);

  // True when the bucket would be full by `now`: dropping it changes nothing.
  bool idle(const rate_spec& spec, steady_time now) const;
};

}  // namespace jobrelay::limit
