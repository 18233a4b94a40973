// The log lines of one Redis connection's ups and downs: a warning when it
// goes down, an info line when it is back, and while it stays down one line
// at the first failed attempt and then at most one per interval, so that a
// Redis that is gone for an hour does not fill the log with reconnects (the
// other attempts are debug lines).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace jobrelay::redis::detail {

class outage_log {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit outage_log(std::string name,
                      std::chrono::steady_clock::duration interval = std::chrono::seconds(30))
      : name_(std::move(name)), interval_(interval) {}

  // Each returns whether it wrote a line at info level or above.
  bool went_down(std::string_view reason, time_point now);
  bool attempt_failed(std::string_view reason, time_point now);
  bool came_up(time_point now);

 private:
  std::string name_;
  std::chrono::steady_clock::duration interval_;
  bool down_ = false;
  bool ever_up_ = false;
  unsigned failed_attempts_ = 0;
  time_point down_since_{};
  time_point last_line_{};
};

}  // namespace jobrelay::redis::detail
