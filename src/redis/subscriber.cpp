// The subscriber: one connection in subscribe mode, all of it on one strand.
// SUBSCRIBE is part of opening the connection (bounded by connect_timeout);
// then a reader delivers messages and a pinger proves the quiet connection
// alive. Losing it means reconnecting, subscribing again and calling on_up,
// because whatever was published meanwhile is gone.
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "backoff.hpp"
#include "jobrelay/redis/client.hpp"
#include "jobrelay/redis/resp.hpp"
#include "link.hpp"
#include "outage_log.hpp"
#include "spawn.hpp"

namespace jobrelay::redis {

namespace asio = boost::asio;
using namespace detail;
using clock = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// One subscribed link, from its SUBSCRIBE to its end.
struct subscription {
  subscription(std::shared_ptr<link> l, const asio::any_io_executor& strand)
      : wire(std::move(l)), ping_timer(strand) {}

  void end(std::string reason) {
    if (why.empty()) why = std::move(reason);
    wire->close();
    ping_timer.cancel();
  }

  std::shared_ptr<link> wire;
  asio::steady_timer ping_timer;
  std::uint64_t pongs = 0;
  std::string why;  // the first reason it ended
};

bool is_text(const reply& r, std::string_view text) {
  return (r.type == reply::kind::string || r.type == reply::kind::status) && r.str == text;
}

}  // namespace

struct subscriber::impl : std::enable_shared_from_this<subscriber::impl> {
  impl(const asio::any_io_executor& executor, endpoint where, client_options options)
      : strand(asio::make_strand(executor)),
        settings(make_link_settings(std::move(where), std::move(options), "redis subscriber")),
        pause(strand),
        retry(settings->options.reconnect_min, settings->options.reconnect_max),
        log(settings->name) {}

  asio::awaitable<void> supervise();
  asio::awaitable<void> ping(std::shared_ptr<subscription> s);
  // Returns when `s` has ended.
  asio::awaitable<void> read_messages(subscription& s);
  void handle(subscription& s, reply& r);
  void stop_on_strand();

  asio::any_io_executor strand;
  std::shared_ptr<const link_settings> settings;
  std::function<void(std::string_view, std::string_view)> message_hook;
  std::function<void()> up_hook;
  std::vector<std::string> channels;

  // Strand only.
  std::shared_ptr<link> opening;
  std::shared_ptr<subscription> current;
  asio::steady_timer pause;
  backoff retry;
  outage_log log;
  bool stopping = false;

  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::atomic<bool> up{false};
};

namespace {

// One channel a command: each is then exactly one reply to check.
std::vector<command> subscribe_commands(const std::vector<std::string>& channels) {
  std::vector<command> out;
  for (const auto& channel : channels) out.push_back({"SUBSCRIBE", channel});
  return out;
}

}  // namespace

asio::awaitable<void> subscriber::impl::supervise() {
  auto self = shared_from_this();
  const std::vector<command> subscribes = subscribe_commands(channels);

  while (!stopping) {
    auto opened = std::make_shared<link>(strand, settings);
    opening = opened;
    std::string why;
    const bool ok = co_await opened->open(why, subscribes);
    opening.reset();
    if (stopping) {
      opened->close();
      break;
    }
    if (!ok) {
      opened->close();
      log.attempt_failed(why, clock::now());
      pause.expires_after(retry.next());
      co_await pause.async_wait(use_tuple);
      continue;
    }

    retry.reset();
    auto s = std::make_shared<subscription>(std::move(opened), strand);
    current = s;
    up = true;
    log.came_up(clock::now());
    if (up_hook) {
      try {
        up_hook();
      } catch (const std::exception& e) {
        spdlog::error("{}: on_up hook failed: {}", settings->name, e.what());
      }
    }
    spawn(strand, ping(s), settings->name + " pinger");
    co_await read_messages(*s);
    up = false;
    current.reset();
    if (stopping) break;
    log.went_down(s->why, clock::now());
    pause.expires_after(retry.next());
    co_await pause.async_wait(use_tuple);
  }
}

asio::awaitable<void> subscriber::impl::read_messages(subscription& s) {
  reply_reader& replies = s.wire->replies();
  std::string why;
  while (!s.wire->closed()) {
    const bool got = co_await s.wire->receive(why);
    if (!got) {
      s.end(why);
      break;
    }
    for (std::optional<reply> r = replies.next(); r; r = replies.next()) handle(s, *r);
    if (replies.failed()) s.end(replies.why());
  }
}

void subscriber::impl::handle(subscription& s, reply& r) {
  if (r.type == reply::kind::array && r.elements.size() == 3 && is_text(r.elements[0], "message")) {
    if (!message_hook) return;
    try {
      message_hook(r.elements[1].str, r.elements[2].str);
    } catch (const std::exception& e) {
      spdlog::error("{}: on_message hook failed: {}", settings->name, e.what());
    }
    return;
  }
  // In subscribe mode PING answers ["pong", ""]; "+PONG" is the plain form.
  if ((r.type == reply::kind::array && !r.elements.empty() && is_text(r.elements[0], "pong")) ||
      is_text(r, "PONG")) {
    ++s.pongs;
    return;
  }
  if (r.is_error()) spdlog::warn("{}: Redis said: {}", settings->name, r.str);
}

asio::awaitable<void> subscriber::impl::ping(std::shared_ptr<subscription> s) {
  auto self = shared_from_this();
  std::string why;
  while (!s->wire->closed()) {
    s->ping_timer.expires_after(settings->options.ping_interval);
    co_await s->ping_timer.async_wait(use_tuple);
    if (s->wire->closed()) break;
    const std::uint64_t before = s->pongs;
    const bool sent = co_await s->wire->send(ping_command(), why);
    if (s->wire->closed()) break;
    if (!sent) {
      s->end(why);
      break;
    }
    s->ping_timer.expires_after(settings->options.command_timeout);
    co_await s->ping_timer.async_wait(use_tuple);
    if (s->wire->closed()) break;
    if (s->pongs == before) {
      s->end("no answer to PING within command_timeout (" +
             std::to_string(settings->options.command_timeout.count()) + " ms)");
      break;
    }
  }
}

void subscriber::impl::stop_on_strand() {
  stopping = true;
  up = false;
  if (opening) opening->close();
  if (current) current->end("stopped");
  pause.cancel();
}

subscriber::subscriber(asio::any_io_executor executor, endpoint where, client_options options)
    : impl_(std::make_shared<impl>(executor, std::move(where), std::move(options))) {}

subscriber::~subscriber() {
  stop();
}

void subscriber::on_message(
    std::function<void(std::string_view channel, std::string_view payload)> hook) {
  impl_->message_hook = std::move(hook);
}

void subscriber::on_up(std::function<void()> hook) {
  impl_->up_hook = std::move(hook);
}

void subscriber::start(std::vector<std::string> channels) {
  if (impl_->started.exchange(true)) return;
  impl_->channels = std::move(channels);
  spawn(impl_->strand, impl_->supervise(), impl_->settings->name);
}

void subscriber::stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->up = false;
  asio::post(impl_->strand, [self = impl_] { self->stop_on_strand(); });
}

bool subscriber::connected() const {
  return impl_->up && !impl_->stopped;
}

}  // namespace jobrelay::redis
