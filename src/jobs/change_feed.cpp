#include "jobrelay/jobs/change_feed.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobrelay::jobs {
namespace asio = boost::asio;

struct change_feed::waiter {
  explicit waiter(std::string i, asio::any_io_executor ex) : id(std::move(i)), timer(std::move(ex)) {}
  std::string id;
  asio::steady_timer timer;  // touched only on its executor
  bool changed = false;      // guarded by the feed's mutex
};

void change_feed::wake_locked(const std::shared_ptr<waiter>& w) {
  w->changed = true;
  // The timer belongs to the waiting connection's executor; cancel it there.
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

asio::awaitable<change_feed::subscription> change_feed::subscribe(std::string id) {
  auto w = std::make_shared<waiter>(std::move(id), co_await asio::this_coro::executor);
  std::lock_guard lock(mutex_);
  if (closed_) w->changed = true;
  by_job_[w->id].push_back(w);
  ++count_;
  co_return subscription(*this, std::move(w));
}

void change_feed::notify(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = by_job_.find(id);
  if (it == by_job_.end()) return;
  for (auto& w : it->second) wake_locked(w);
}

void change_feed::notify_one(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = by_job_.find(id);
  if (it == by_job_.end()) return;
  // Subscribers are kept in the order they came, and one that was woken
  // keeps its place if it has to wait again.
  for (auto& w : it->second)
    if (!w->changed) {
      wake_locked(w);
      return;
    }
}

void change_feed::notify_all() {
  std::lock_guard lock(mutex_);
  for (auto& [id, list] : by_job_)
    for (auto& w : list) wake_locked(w);
}

void change_feed::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  notify_all();
}

bool change_feed::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t change_feed::waiters() const {
  std::lock_guard lock(mutex_);
  return count_;
}

void change_feed::unsubscribe(const std::shared_ptr<waiter>& w) {
  std::lock_guard lock(mutex_);
  auto it = by_job_.find(w->id);
  if (it == by_job_.end()) return;
  std::erase(it->second, w);
  if (it->second.empty()) by_job_.erase(it);
  --count_;
}

change_feed::subscription::subscription(subscription&& other) noexcept
    : feed_(other.feed_), waiter_(std::move(other.waiter_)) {}

change_feed::subscription::~subscription() {
  if (waiter_) feed_->unsubscribe(waiter_);
}

asio::awaitable<bool> change_feed::subscription::wait(std::chrono::steady_clock::time_point deadline) {
  {
    std::lock_guard lock(feed_->mutex_);
    if (waiter_->changed) {
      waiter_->changed = feed_->closed_;  // a closed feed stays "changed"
      co_return true;
    }
  }
  for (;;) {
    waiter_->timer.expires_at(deadline);
    co_await waiter_->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    std::lock_guard lock(feed_->mutex_);
    if (waiter_->changed) {
      waiter_->changed = feed_->closed_;
      co_return true;
    }
    // A late cancel from an earlier wake-up: keep waiting until the deadline.
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
  }
}

}  // namespace jobrelay::jobs
