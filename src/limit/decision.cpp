#include "jobrelay/limit/decision.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace jobrelay::limit {
namespace {

std::uint64_t ceil_seconds(std::chrono::nanoseconds d) {
  if (d.count() <= 0) return 0;
  return static_cast<std::uint64_t>((d.count() + 999'999'999) / 1'000'000'000);
}

}  // namespace

decision decide(const rate_spec& spec, const take_result& taken) {
  if (!spec.enabled()) return decision{};
  decision d;
  d.enabled = true;
  d.allowed = taken.allowed;
  d.limit = static_cast<std::uint64_t>(std::max(std::floor(spec.burst), 1.0));
  d.remaining = taken.remaining;
  d.reset_seconds = ceil_seconds(taken.reset);
  d.retry_after_seconds = ceil_seconds(taken.retry_after);
  // HTTP delay-seconds: a rejection must never advise 0 (API.md).
  if (!d.allowed) d.retry_after_seconds = std::max<std::uint64_t>(d.retry_after_seconds, 1);
  d.policy.limit = d.limit;
  d.policy.window_seconds = std::max<std::uint64_t>(
      static_cast<std::uint64_t>(std::ceil(static_cast<double>(d.limit) / spec.rate_per_second)),
      1);
  return d;
}

}  // namespace jobrelay::limit
