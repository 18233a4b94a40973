#include "connection_pool.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

namespace jobrelay::upstream::detail {

namespace asio = boost::asio;

namespace {

void close_all(const std::vector<std::shared_ptr<connection>>& conns) {
  for (const auto& c : conns) c->close();
}

}  // namespace

connection_pool::connection_pool(std::size_t max_connections,
                                 std::chrono::steady_clock::duration max_idle)
    : max_connections_(std::max<std::size_t>(1, max_connections)), max_idle_(max_idle) {}

asio::awaitable<result<connection_pool::grant>> connection_pool::acquire(const origin& where,
                                                                         steady_time deadline) {
  auto executor = co_await asio::this_coro::executor;
  std::vector<std::shared_ptr<connection>> to_close;
  std::optional<grant> ready;
  std::shared_ptr<waiter> me;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_) co_return make_error_code(errc::shutting_down);
    drop_expired_idle(std::chrono::steady_clock::now(), to_close);

    if (auto it = idle_.find(where); it != idle_.end()) {
      ready = grant{std::move(it->second.back())};
      it->second.pop_back();
      if (it->second.empty()) idle_.erase(it);
    } else if (open_ < max_connections_) {
      ++open_;
      ready = grant{};
    } else if (auto victim = take_oldest_idle()) {
      // Full, but partly idle towards other origins: that room is better used here.
      to_close.push_back(std::move(victim));
      ready = grant{};
    } else {
      me = std::make_shared<waiter>(executor, where);
      me->timer.expires_at(deadline);
      waiters_.push_back(me);
    }
  }
  close_all(to_close);
  if (ready) co_return std::move(*ready);

  // Woken early by wake() (a cancel); otherwise the deadline passed.
  co_await me->timer.async_wait(asio::as_tuple(asio::use_awaitable));

  std::lock_guard lock(mutex_);
  switch (me->status) {
    case waiter::state::granted:
      co_return grant{std::move(me->handed)};
    case waiter::state::shut_down:
      co_return make_error_code(errc::shutting_down);
    case waiter::state::waiting:
      break;
  }
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), me), waiters_.end());
  if (std::chrono::steady_clock::now() >= deadline)
    co_return make_error_code(errc::upstream_timeout);
  co_return make_error_code(asio::error::operation_aborted);
}

void connection_pool::release(std::shared_ptr<connection> conn, bool reusable) {
  std::shared_ptr<connection> to_close;
  std::shared_ptr<waiter> woken;
  {
    std::lock_guard lock(mutex_);
    if (shutting_down_ || !conn) reusable = false;
    // Handed on or parked, it is free from now: how long ago tells the next
    // caller whether to check that the peer has not closed it meanwhile.
    if (reusable) conn->mark_idle(std::chrono::steady_clock::now());
    if (!waiters_.empty() && !shutting_down_) {
      // First come, first served: the head of the queue gets this slot, with
      // the connection itself when it is for the same origin.
      woken = std::move(waiters_.front());
      waiters_.pop_front();
      woken->status = waiter::state::granted;
      if (reusable && woken->where == conn->where()) {
        woken->handed = std::move(conn);
      } else {
        to_close = std::move(conn);
      }
    } else if (reusable) {
      idle_[conn->where()].push_back(std::move(conn));
    } else {
      to_close = std::move(conn);
      --open_;
    }
  }
  if (to_close) to_close->close();
  if (woken) wake(woken);
}

void connection_pool::shutdown() {
  std::vector<std::shared_ptr<connection>> to_close;
  std::deque<std::shared_ptr<waiter>> woken;
  {
    std::lock_guard lock(mutex_);
    shutting_down_ = true;
    for (auto& [where, conns] : idle_) {
      open_ -= conns.size();
      for (auto& c : conns) to_close.push_back(std::move(c));
    }
    idle_.clear();
    woken.swap(waiters_);
    for (auto& w : woken) w->status = waiter::state::shut_down;
  }
  close_all(to_close);
  for (auto& w : woken) wake(w);
}

std::size_t connection_pool::open_connections() const {
  std::lock_guard lock(mutex_);
  return open_;
}

void connection_pool::drop_expired_idle(steady_time now,
                                        std::vector<std::shared_ptr<connection>>& to_close) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& conns = it->second;
    // Oldest first, so the expired ones are a prefix.
    auto fresh = std::find_if(conns.begin(), conns.end(),
                              [&](const auto& c) { return now - c->idle_since() < max_idle_; });
    for (auto c = conns.begin(); c != fresh; ++c) to_close.push_back(std::move(*c));
    open_ -= static_cast<std::size_t>(fresh - conns.begin());
    conns.erase(conns.begin(), fresh);
    it = conns.empty() ? idle_.erase(it) : std::next(it);
  }
}

std::shared_ptr<connection> connection_pool::take_oldest_idle() {
  auto oldest = idle_.end();
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (oldest == idle_.end() ||
        it->second.front()->idle_since() < oldest->second.front()->idle_since()) {
      oldest = it;
    }
  }
  if (oldest == idle_.end()) return nullptr;
  auto conn = std::move(oldest->second.front());
  oldest->second.erase(oldest->second.begin());
  if (oldest->second.empty()) idle_.erase(oldest);
  return conn;
}

void connection_pool::wake(const std::shared_ptr<waiter>& w) {
  // On the waiter's own strand, so the cancel cannot slip in before its
  // async_wait has started (that would leave it asleep until the deadline).
  asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
}

}  // namespace jobrelay::upstream::detail
