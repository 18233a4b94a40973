#include "jobrelay/limit/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace jobrelay::limit {
namespace {

// Token counts are doubles, and a client that waits exactly the advertised
// retry_after must get in even though elapsed * rate may land a hair below a
// whole token after rounding; a nano-token of slack absorbs that.
constexpr double epsilon = 1e-9;

// A burst below one token could never admit anything; validation forbids it,
// and this keeps the arithmetic sane if it slips through.
double capacity(const rate_spec& spec) {
  return std::max(spec.burst, 1.0);
}

// Rounded up, so that waiting the returned time is always enough.
std::chrono::nanoseconds time_for(double tokens, double rate) {
  if (tokens <= 0) return std::chrono::nanoseconds{0};
  return std::chrono::nanoseconds{static_cast<std::int64_t>(std::ceil(tokens / rate * 1e9))};
}

}  // namespace

token_bucket token_bucket::full(const rate_spec& spec, steady_time now) {
  return token_bucket{capacity(spec), now};
}

take_result token_bucket::try_take(steady_time now, const rate_spec& spec) {
  if (!spec.enabled()) {
    return take_result{true, static_cast<std::uint64_t>(std::max(spec.burst, 0.0)), {}, {}};
  }
  const double cap = capacity(spec);
  // A clock that went backwards (it should not: it is steady) refills nothing.
  if (now > last_refill) {
    const double elapsed = std::chrono::duration<double>(now - last_refill).count();
    tokens = std::min(cap, tokens + elapsed * spec.rate_per_second);
  }
  last_refill = std::max(last_refill, now);

  take_result r;
  r.allowed = tokens + epsilon >= 1.0;
  if (r.allowed) tokens = std::max(0.0, tokens - 1.0);
  r.remaining = static_cast<std::uint64_t>(std::floor(tokens + epsilon));
  r.retry_after = tokens + epsilon >= 1.0 ? std::chrono::nanoseconds{0}
                                          : time_for(1.0 - tokens, spec.rate_per_second);
  r.reset = time_for(cap - tokens, spec.rate_per_second);
  return r;
}

steady_time token_bucket::full_at(const rate_spec& spec) const {
  if (!spec.enabled()) return last_refill;
  return last_refill + time_for(capacity(spec) - tokens, spec.rate_per_second);
}

}  // namespace jobrelay::limit
