// Jobs waiting for a time (their next poll, a retry) as one min-heap, so the
// engine needs one timer for all of them instead of a timer and a suspended
// coroutine per job: a sleeping job costs one heap entry. Pure: the caller
// reads the clock and arms the timer.
#pragma once

#include <chrono>
#include <cstdint>
#include <queue>
#include <vector>

namespace jobrelay::jobs {

template <class Item, class Clock = std::chrono::steady_clock>
class wakeup_queue {
 public:
  using time_point = typename Clock::time_point;

  void push(time_point at, Item item) { heap_.push(entry{at, sequence_++, std::move(item)}); }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // When the earliest item is due; only when !empty().
  time_point next_due() const { return heap_.top().at; }

  // Hands every item due at `now` to `take`, earliest first; items due at the
  // same time in the order they were pushed.
  template <class Take>
  void pop_due(time_point now, Take&& take) {
    while (!heap_.empty() && heap_.top().at <= now) {
      Item item = std::move(const_cast<entry&>(heap_.top()).item);
      heap_.pop();
      take(std::move(item));
    }
  }

  void clear() { heap_ = {}; }

 private:
  struct entry {
    time_point at;
    std::uint64_t sequence;
    Item item;
    // std::priority_queue keeps the greatest on top: invert for a min-heap.
    bool operator<(const entry& o) const { return at != o.at ? at > o.at : sequence > o.sequence; }
  };
  std::priority_queue<entry> heap_;
  std::uint64_t sequence_ = 0;
};

// When to ring for an item due at `due`: rounded up to a multiple of `tick`
// since the clock's epoch, so that items due within one tick of each other
// share one ring. A ring per item costs a timer re-arm (`timerfd_settime`)
// and a wake-up each: at a poll every second for thousands of jobs, that was
// 3% of the server's CPU in bench D. Never early, at most a tick late.
template <class TimePoint, class Rep, class Period>
TimePoint ring_time(TimePoint due, std::chrono::duration<Rep, Period> tick) {
  const auto since_epoch = due.time_since_epoch();
  auto ticks = since_epoch / tick;  // truncated: up for times before the epoch
  if (ticks * tick < since_epoch) ++ticks;
  return TimePoint(std::chrono::duration_cast<typename TimePoint::duration>(ticks * tick));
}

}  // namespace jobrelay::jobs
