// Keeps the count of open upstream connections under max_connections and the
// idle keep-alive ones ready for reuse, per origin, newest first. Calls that
// find no room queue up in order and wait, up to their deadline, for a slot or
// a connection someone hands back.
//
// The mutex is never held across a suspension; waiters are woken by posting a
// cancel of their timer to their own strand, so a wake-up can never be lost
// between "queued" and "waiting".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "connection.hpp"
#include "jobrelay/error.hpp"

namespace jobrelay::upstream::detail {

class connection_pool : public std::enable_shared_from_this<connection_pool> {
 public:
  connection_pool(std::size_t max_connections, std::chrono::steady_clock::duration max_idle);

  // What acquire() grants: a slot in the count, and maybe an idle connection to
  // reuse. With `reused` null the caller opens a connection under that slot.
  // Whatever ends up in `reused` or is opened later goes back via release().
  struct grant {
    std::shared_ptr<connection> reused;
  };

  // Errors: upstream_timeout (no slot before the deadline), shutting_down,
  // operation_aborted (the caller's coroutine was cancelled).
  boost::asio::awaitable<result<grant>> acquire(const origin& where, steady_time deadline);

  // Gives a slot back. A reusable connection is handed to the first waiter
  // that wants its origin or parked idle; otherwise it is closed and its slot
  // goes to the first waiter, if any. `conn` may be null (connecting failed).
  void release(std::shared_ptr<connection> conn, bool reusable);

  // Closes idle connections and fails current and future acquires.
  void shutdown();

  std::size_t open_connections() const;

 private:
  struct waiter {
    waiter(const boost::asio::any_io_executor& executor, origin w)
        : timer(executor), where(std::move(w)) {}
    enum class state { waiting, granted, shut_down };
    boost::asio::steady_timer timer;
    origin where;
    state status = state::waiting;
    std::shared_ptr<connection> handed;  // with granted: a live connection, or null for a slot
  };

  // All under mutex_; the closes they need are returned, done after unlocking.
  void drop_expired_idle(steady_time now, std::vector<std::shared_ptr<connection>>& to_close);
  std::shared_ptr<connection> take_oldest_idle();
  static void wake(const std::shared_ptr<waiter>& w);

  const std::size_t max_connections_;
  const std::chrono::steady_clock::duration max_idle_;

  mutable std::mutex mutex_;
  bool shutting_down_ = false;
  std::size_t open_ = 0;                                             // busy + idle
  std::map<origin, std::vector<std::shared_ptr<connection>>> idle_;  // back = most recent
  std::deque<std::shared_ptr<waiter>> waiters_;
};

}  // namespace jobrelay::upstream::detail
