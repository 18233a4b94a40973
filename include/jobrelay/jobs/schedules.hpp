// The time rules of the job engine as pure functions: how long to wait before
// the next upstream poll, how long to back off after a transient failure, and
// what Retry-After to advise a polling client. No clock is read here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace jobrelay::jobs {

using std::chrono::milliseconds;

// Poll interval: initial, growing by `factor` per poll up to `max`.
class poll_schedule {
 public:
  poll_schedule(milliseconds initial, double factor, milliseconds max)
      : next_(initial), factor_(factor), max_(max) {}
  // The delay before the next poll; an upstream Retry-After wins when given.
  milliseconds next(std::optional<milliseconds> upstream_retry_after = std::nullopt);
  // The interval the schedule has reached (what a replica taking the job
  // over resumes from).
  milliseconds current() const { return next_; }

 private:
  milliseconds next_;
  double factor_;
  milliseconds max_;
};

// Exponential backoff with "equal jitter" for transient upstream failures:
// attempt n (0-based) waits in [d/2, d] with d = min(cap, base * 2^n), so
// retries from many jobs spread out instead of stampeding a recovering
// upstream. `unit_random` is in [0, 1), injected for tests.
milliseconds retry_backoff(unsigned attempt, milliseconds base, milliseconds cap, double unit_random);

// Retry-After (whole seconds) for a client polling a running job: short while
// the job is young, about a tenth of its age later, sooner when the ETA is
// near; clamped to [min_s, max_s] and never below 1.
unsigned client_retry_after(double age_seconds, std::optional<long> eta_seconds, unsigned min_s,
                            unsigned max_s);

// ETA extrapolated linearly from progress over elapsed time; none while the
// progress is 0 (no rate yet).
std::optional<long> estimate_eta_seconds(double progress, double elapsed_seconds);

// Parses an HTTP Retry-After of delay-seconds; HTTP dates are not used by
// analyzers we know and are ignored. Caps absurd values at `cap`.
std::optional<milliseconds> parse_retry_after(std::string_view value, milliseconds cap);

}  // namespace jobrelay::jobs
