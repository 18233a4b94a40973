#include "jobrelay/limit/token_bucket.hpp"

#include <algorithm>

namespace jobrelay::limit {

bucket_decision token_bucket::take(const rate_spec& spec, steady_time now) {
  bucket_decision d;
  if (!spec.enabled()) return d;
  const double elapsed = std::max(0.0, std::chrono::duration<double>(now - updated).count());
  tokens = std::min(spec.burst, tokens + elapsed * spec.rate_per_second);
  updated = now;
  if (tokens >= 1.0) {
    tokens -= 1.0;
    d.allowed = true;
  } else {
    d.allowed = false;
    d.retry_after = std::chrono::duration<double>((1.0 - tokens) / spec.rate_per_second);
  }
  d.remaining = tokens;
  d.reset = std::chrono::duration<double>((spec.burst - tokens) / spec.rate_per_second);
  return d;
}

bool token_bucket::idle(const rate_spec& spec, steady_time now) const {
  if (!spec.enabled()) return true;
  const double elapsed = std::chrono::duration<double>(now - updated).count();
  return tokens + elapsed * spec.rate_per_second >= spec.burst;
}

}  // namespace jobrelay::limit
