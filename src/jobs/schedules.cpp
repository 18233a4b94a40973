#include "jobrelay/jobs/schedules.hpp"
#include "jobrelay/text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string_view>

namespace jobrelay::jobs {

milliseconds poll_schedule::next(std::optional<milliseconds> upstream_retry_after) {
  const milliseconds own = next_;
  const double grown = static_cast<double>(next_.count()) * factor_;
  next_ = std::min(max_, milliseconds(static_cast<std::int64_t>(std::min(grown, 1e12))));
  if (upstream_retry_after) return *upstream_retry_after;
  return own;
}

milliseconds retry_backoff(unsigned attempt, milliseconds base, milliseconds cap,
                           double unit_random) {
  const double exp = std::ldexp(static_cast<double>(base.count()), static_cast<int>(std::min(attempt, 40u)));
  const double d = std::min(static_cast<double>(cap.count()), exp);
  const double r = std::clamp(unit_random, 0.0, 1.0);
  return milliseconds(static_cast<std::int64_t>(d / 2 + r * d / 2));
}

unsigned client_retry_after(double age_seconds, std::optional<long> eta_seconds, unsigned min_s,
                            unsigned max_s) {
  min_s = std::max(1u, min_s);
  max_s = std::max(min_s, max_s);
  double advice = std::max(0.0, age_seconds) / 10.0;
  if (eta_seconds) advice = std::min(advice, static_cast<double>(std::max(0L, *eta_seconds)));
  const auto whole = static_cast<unsigned>(std::min(std::ceil(advice), 1e6));
  return std::clamp(whole, min_s, max_s);
}

std::optional<long> estimate_eta_seconds(double progress, double elapsed_seconds) {
  if (!(progress > 0.0) || elapsed_seconds <= 0.0) return std::nullopt;
  if (progress >= 1.0) return 0L;
  const double remaining = elapsed_seconds * (1.0 - progress) / progress;
  return static_cast<long>(std::ceil(std::min(remaining, 1e9)));
}

std::optional<milliseconds> parse_retry_after(std::string_view value, milliseconds cap) {
  value = trim_ows(value);
  if (value.empty() || value.size() > 12) return std::nullopt;
  std::uint64_t secs = 0;
  const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), secs);
  if (ec != std::errc() || ptr != value.data() + value.size()) return std::nullopt;
  return std::min(cap, milliseconds(static_cast<std::int64_t>(secs) * 1000));
}

}  // namespace jobrelay::jobs
