#include "outage_log.hpp"

#include <spdlog/spdlog.h>

namespace jobrelay::redis::detail {

namespace {

double seconds_between(outage_log::time_point from, outage_log::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

bool outage_log::went_down(std::string_view reason, time_point now) {
  spdlog::warn("{}: connection lost ({}); reconnecting", name_, reason);
  down_ = true;
  failed_attempts_ = 0;
  down_since_ = now;
  last_line_ = now;
  return true;
}

bool outage_log::attempt_failed(std::string_view reason, time_point now) {
  ++failed_attempts_;
  if (!down_) {
    spdlog::warn("{}: cannot connect ({}); retrying", name_, reason);
    down_ = true;
    down_since_ = now;
    last_line_ = now;
    return true;
  }
  if (now - last_line_ < interval_) {
    spdlog::debug("{}: still cannot connect ({})", name_, reason);
    return false;
  }
  spdlog::warn("{}: still down after {:.0f} s and {} attempts ({})", name_,
               seconds_between(down_since_, now), failed_attempts_, reason);
  last_line_ = now;
  return true;
}

bool outage_log::came_up(time_point now) {
  bool wrote = true;
  if (down_) {
    spdlog::info("{}: connected again after {:.1f} s", name_, seconds_between(down_since_, now));
  } else if (!ever_up_) {
    spdlog::info("{}: connected", name_);
  } else {
    wrote = false;
  }
  down_ = false;
  ever_up_ = true;
  failed_attempts_ = 0;
  return wrote;
}

}  // namespace jobrelay::redis::detail
