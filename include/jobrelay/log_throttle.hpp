// At most one line per interval for a kind of warning that an outage raises
// for every job at once (10,000 jobs whose store writes fail, each retried
// every second, were 10,000 lines a second). The line that gets through says
// how many were left out. One thread: the engine's.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace jobrelay {

class log_throttle {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  explicit log_throttle(std::chrono::steady_clock::duration interval = std::chrono::seconds(1))
      : interval_(interval) {}

  // Whether to write this one; when so, `note` is "" or
  // " (N more like it not logged)" for the ones held back since the last.
  bool allow(time_point now, std::string& note) {
    if (written_ && now - last_ < interval_) {
      ++held_back_;
      return false;
    }
    note = held_back_ == 0 ? std::string()
                           : " (" + std::to_string(held_back_) + " more like it not logged)";
    written_ = true;
    last_ = now;
    held_back_ = 0;
    return true;
  }

 private:
  std::chrono::steady_clock::duration interval_;
  time_point last_{};
  bool written_ = false;
  std::uint64_t held_back_ = 0;
};

}  // namespace jobrelay
