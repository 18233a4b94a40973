#include "backoff.hpp"

#include <algorithm>

#include "jobrelay/jobs/schedules.hpp"

namespace jobrelay::redis::detail {

backoff::backoff(std::chrono::milliseconds min, std::chrono::milliseconds max)
    : min_(std::max(min, std::chrono::milliseconds(1))),
      max_(std::max(max, min_)),
      random_(std::random_device{}()) {}

std::chrono::milliseconds backoff::next() {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto wait = jobs::retry_backoff(attempt_, min_, max_, unit(random_));
  if (attempt_ < 64) ++attempt_;
  return wait;
}

}  // namespace jobrelay::redis::detail
