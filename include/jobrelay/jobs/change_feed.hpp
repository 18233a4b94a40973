// Wakes the requests that wait on a job (long polls, event streams) the
// moment the job changes, without a thread or a busy loop per waiter: a
// waiter is a timer on its own connection's executor, cancelled by notify().
// Subscribe first, then read the job, then wait: a change in between is not
// lost because the subscription remembers it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jobrelay/string_table.hpp"

namespace jobrelay::jobs {

class change_feed {
  struct waiter;

 public:
  class subscription {
   public:
    subscription(subscription&&) noexcept;
    subscription& operator=(subscription&&) = delete;
    ~subscription();
    // Completes when the job changed since the last wait (or the
    // subscription), when `deadline` passes, or when the feed closes.
    // True when woken by a change or a close, false on the deadline.
    boost::asio::awaitable<bool> wait(std::chrono::steady_clock::time_point deadline);

   private:
    friend class change_feed;
    subscription(change_feed& feed, std::shared_ptr<waiter> w) : feed_(&feed), waiter_(std::move(w)) {}
    change_feed* feed_;
    std::shared_ptr<waiter> waiter_;
  };

  change_feed() = default;
  change_feed(const change_feed&) = delete;
  change_feed& operator=(const change_feed&) = delete;

  // Must be called from the coroutine that will wait (its executor wakes it).
  boost::asio::awaitable<subscription> subscribe(std::string id);
  void notify(std::string_view id);
  // Wakes only the longest-waiting subscriber of `id` not woken yet: a queue
  // where each notification is one turn (engine::wait_for_room).
  void notify_one(std::string_view id);
  // Wakes every waiter to read its job again (changes may have been missed).
  void notify_all();
  // Wakes everyone, now and later (shutdown): waits return at once.
  void close();
  bool closed() const;
  std::size_t waiters() const;

 private:
  void unsubscribe(const std::shared_ptr<waiter>& w);
  void wake_locked(const std::shared_ptr<waiter>& w);

  mutable std::mutex mutex_;
  string_table<std::vector<std::shared_ptr<waiter>>> by_job_;
  std::size_t count_ = 0;
  bool closed_ = false;
};

}  // namespace jobrelay::jobs
