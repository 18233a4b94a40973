#include "pipelined_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>

#include "jobrelay/text.hpp"
#include "spawn.hpp"

namespace jobrelay::redis::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// A write buffer grown by a burst is not kept beyond this.
constexpr std::size_t keep_write_capacity = 1 << 20;

}  // namespace

// Moved around but never move-assigned (see submit()).
struct pipelined_connection::call {
  reply_handler handler;
  // The caller's executor, counted as busy until the call is answered (so
  // that its io_context does not run out of work while it waits on us).
  asio::any_io_executor work;
  std::size_t expected = 1;
  std::vector<reply> replies;
  clock::time_point deadline;
};

// One opened link and what travels on it; it ends once, with end_session.
struct pipelined_connection::session {
  session(std::shared_ptr<link> l, const asio::any_io_executor& strand)
      : wire(std::move(l)), writer_wake(strand), deadline_timer(strand), ended(strand) {}

  std::shared_ptr<link> wire;
  std::string outbox;              // written by the next write
  std::deque<call> calls;          // in the order their commands are written
  asio::steady_timer writer_wake;  // an idle writer waits on it
  bool writer_idle = false;
  asio::steady_timer deadline_timer;
  asio::steady_timer ended;  // the supervisor waits on it
  bool over = false;
};

pipelined_connection::pipelined_connection(const asio::any_io_executor& executor,
                                           std::shared_ptr<const link_settings> settings,
                                           std::string name, std::function<void()> on_up)
    : strand_(asio::make_strand(executor)),
      settings_(std::move(settings)),
      name_(std::move(name)),
      on_up_(std::move(on_up)),
      pause_(strand_),
      backoff_(settings_->options.reconnect_min, settings_->options.reconnect_max),
      log_(name_) {}

void pipelined_connection::start() {
  spawn(strand_, supervise(), name_);
}

void pipelined_connection::stop() {
  stopped_ = true;
  up_ = false;
  asio::post(strand_, [self = shared_from_this()] {
    self->stopping_ = true;
    if (self->opening_) self->opening_->close();
    self->pause_.cancel();
    if (auto s = self->session_) self->end_session(*s, "stopped", errc::shutting_down);
  });
}

void pipelined_connection::submit(std::string wire, std::size_t replies, reply_handler handler,
                                  const asio::any_io_executor& caller) {
  // Constructed, never assigned: Boost 1.81's any_completion_handler move
  // assignment wraps its source in a new handler, endlessly.
  call c{std::move(handler),
         asio::prefer(caller, asio::execution::outstanding_work.tracked),
         replies,
         {},
         {}};
  asio::post(strand_,
             [self = shared_from_this(), wire = std::move(wire), c = std::move(c)]() mutable {
               c.deadline = clock::now() + self->settings_->options.command_timeout;
               if (self->stopping_ || self->stopped_) {
                 complete(c, errc::shutting_down);
                 return;
               }
               const auto& s = self->session_;
               if (!s || s->over) {
                 complete(c, errc::store_unavailable);
                 return;
               }
               if (s->outbox.empty()) {
                 s->outbox = std::move(wire);
               } else {
                 s->outbox.append(wire);
               }
               s->calls.push_back(std::move(c));
               if (s->writer_idle) s->writer_wake.cancel();
             });
}

void pipelined_connection::complete(call& c, boost::system::error_code ec) {
  if (!c.handler) return;  // the connection's own PING
  // Posted, not dispatched: the caller's coroutine must not resume inside
  // this strand (it would hold it, and could call back into us).
  asio::post(c.work,
             [handler = std::move(c.handler), ec, replies = std::move(c.replies)]() mutable {
               std::move(handler)(ec, std::move(replies));
             });
}

void pipelined_connection::end_session(session& s, const std::string& why, errc code) {
  if (s.over) return;
  s.over = true;
  s.wire->close();
  s.writer_wake.cancel();
  s.deadline_timer.cancel();
  s.ended.cancel();
  const bool current = session_.get() == &s;
  if (current) {
    session_.reset();
    up_ = false;
  }
  std::deque<call> calls = std::move(s.calls);
  s.calls.clear();
  s.outbox.clear();
  for (auto& c : calls) complete(c, code);
  if (!stopping_) log_.went_down(why, clock::now());
}

asio::awaitable<void> pipelined_connection::supervise() {
  auto self = shared_from_this();
  while (!stopping_) {
    auto opened = std::make_shared<link>(strand_, settings_);
    opening_ = opened;
    std::string why;
    const bool ok = co_await opened->open(why);
    opening_.reset();
    if (stopping_) {
      opened->close();
      break;
    }
    if (!ok) {
      opened->close();
      log_.attempt_failed(why, clock::now());
      co_await pause(backoff_.next());
      continue;
    }

    backoff_.reset();
    auto s = std::make_shared<session>(std::move(opened), strand_);
    session_ = s;
    up_ = true;
    log_.came_up(clock::now());
    if (on_up_) on_up_();
    spawn(strand_, read_replies(s), name_ + " reader");
    spawn(strand_, write_queued(s), name_ + " writer");
    spawn(strand_, watch_deadlines(s), name_ + " watchdog");
    if (!s->over) {
      s->ended.expires_at(clock::time_point::max());
      co_await s->ended.async_wait(use_tuple);
    }
    if (stopping_) break;
    co_await pause(backoff_.next());
  }
}

asio::awaitable<void> pipelined_connection::pause(std::chrono::milliseconds how_long) {
  pause_.expires_after(how_long);
  co_await pause_.async_wait(use_tuple);
}

asio::awaitable<void> pipelined_connection::read_replies(std::shared_ptr<session> s) {
  auto self = shared_from_this();
  reply_reader& replies = s->wire->replies();
  std::string why;
  while (!s->over) {
    const bool got = co_await s->wire->receive(why);
    if (s->over) break;
    if (!got) {
      end_session(*s, why, errc::store_unavailable);
      break;
    }
    for (std::optional<reply> r = replies.next(); r; r = replies.next()) {
      if (s->calls.empty()) {
        end_session(*s, "a reply nobody asked for", errc::store_unavailable);
        co_return;
      }
      call& front = s->calls.front();
      front.replies.push_back(std::move(*r));
      if (front.replies.size() == front.expected) {
        complete(front, {});
        s->calls.pop_front();
      }
    }
    if (replies.failed()) {
      end_session(*s, replies.why(), errc::store_unavailable);
      break;
    }
  }
}

asio::awaitable<void> pipelined_connection::write_queued(std::shared_ptr<session> s) {
  auto self = shared_from_this();
  std::string writing;
  std::string why;
  while (!s->over) {
    if (s->outbox.empty()) {
      s->writer_idle = true;
      s->writer_wake.expires_after(settings_->options.ping_interval);
      auto [idle] = co_await s->writer_wake.async_wait(use_tuple);
      s->writer_idle = false;
      // Quiet for a whole interval (not woken by a call): a PING, so that a
      // peer gone silent is found by the watchdog before a caller finds it,
      // and connected() does not claim an idle dead connection.
      if (!idle && !s->over && s->outbox.empty() && s->calls.empty()) {
        s->outbox = ping_command();
        s->calls.push_back(call{{}, {}, 1, {}, clock::now() + settings_->options.command_timeout});
      }
      continue;
    }
    // Everything queued since the last write goes out in this one.
    writing.clear();
    std::swap(writing, s->outbox);
    const bool sent = co_await s->wire->send(writing, why);
    if (s->over) break;
    if (!sent) {
      end_session(*s, why, errc::store_unavailable);
      break;
    }
    if (writing.capacity() > keep_write_capacity) release_storage(writing);
  }
}

asio::awaitable<void> pipelined_connection::watch_deadlines(std::shared_ptr<session> s) {
  auto self = shared_from_this();
  const auto timeout = settings_->options.command_timeout;
  while (!s->over) {
    const auto now = clock::now();
    if (!s->calls.empty() && s->calls.front().deadline <= now) {
      end_session(*s,
                  "no reply within command_timeout (" + std::to_string(timeout.count()) + " ms)",
                  errc::store_unavailable);
      break;
    }
    // Replies come in order, so only the oldest call can be late first. No
    // call: any that comes is due after now + timeout, when this looks again.
    if (s->calls.empty()) {
      s->deadline_timer.expires_at(now + timeout);
    } else {
      s->deadline_timer.expires_at(s->calls.front().deadline);
    }
    co_await s->deadline_timer.async_wait(use_tuple);
  }
}

}  // namespace jobrelay::redis::detail
