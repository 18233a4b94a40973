// Enforces a deadline on whatever a call is awaiting by running a cancel
// action (close the socket, cancel the resolver) when it passes. Closing is the
// one cancellation every layer (TCP, TLS, Beast) honours the same way, and the
// call then learns from fired() that the failure was the clock's doing.
//
// Must be used from the call's strand: the timer's handler runs there too, so
// it never races the awaited operation's completion.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

namespace jobrelay::upstream::detail {

class watchdog {
 public:
  explicit watchdog(const boost::asio::any_io_executor& executor)
      : timer_(executor), state_(std::make_shared<state>()) {}
  ~watchdog() { disarm(); }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;

  // Replaces any earlier arming.
  void arm(std::chrono::steady_clock::time_point when, std::function<void()> on_expire) {
    const unsigned generation = ++state_->generation;
    state_->on_expire = std::move(on_expire);
    timer_.expires_at(when);
    // A handler already queued when re-armed sees a newer generation and stays quiet.
    timer_.async_wait([state = state_, generation](const boost::system::error_code& ec) {
      if (ec || state->generation != generation) return;
      state->fired = true;
      auto action = std::move(state->on_expire);
      if (action) action();
    });
  }

  void disarm() {
    ++state_->generation;
    state_->on_expire = nullptr;
    timer_.cancel();
  }

  bool fired() const { return state_->fired; }

 private:
  struct state {
    unsigned generation = 0;
    bool fired = false;
    std::function<void()> on_expire;
  };
  boost::asio::steady_timer timer_;
  std::shared_ptr<state> state_;
};

}  // namespace jobrelay::upstream::detail
