// The client: a pool of pipelined connections, each on its own strand, and
// the asynchronous operation that carries a caller's commands to one of them
// and its replies back to the caller's executor.
#include "jobrelay/redis/client.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "jobrelay/redis/resp.hpp"
#include "link.hpp"
#include "pipelined_connection.hpp"

namespace jobrelay::redis {

namespace asio = boost::asio;
using namespace detail;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Hands `wire` (`count` commands) to `conn`; completes, on the caller's
// executor, with their replies. Not cancellable: a call ends by itself within
// command_timeout, because the connection ends first.
template <class Token>
auto async_submit(std::shared_ptr<pipelined_connection> conn, std::string wire, std::size_t count,
                  Token&& token) {
  return asio::async_initiate<Token, void(boost::system::error_code, std::vector<reply>)>(
      [](auto handler, std::shared_ptr<pipelined_connection> target, std::string bytes,
         std::size_t replies) {
        // Read before the handler's type is erased: use_awaitable's handler
        // has the coroutine's any_io_executor, which post() can target.
        const asio::any_io_executor caller =
            asio::get_associated_executor(handler, target->executor());
        target->submit(std::move(bytes), replies, reply_handler(std::move(handler)), caller);
      },
      token, std::move(conn), std::move(wire), count);
}

// What the connections share with the client, and may outlive it with.
struct shared_state {
  std::atomic<bool> stopped{false};
  std::mutex hook_mutex;
  std::function<void()> up_hook;

  void run_up_hook() {
    if (stopped) return;
    std::function<void()> hook;
    {
      std::lock_guard lock(hook_mutex);
      hook = up_hook;
    }
    if (!hook) return;
    try {
      hook();
    } catch (const std::exception& e) {
      spdlog::error("redis: on_up hook failed: {}", e.what());
    }
  }
};

}  // namespace

struct client::impl {
  impl(asio::any_io_executor ex, endpoint where, client_options options)
      : executor(std::move(ex)),
        settings(make_link_settings(std::move(where), std::move(options), "redis")),
        state(std::make_shared<shared_state>()) {
    const std::size_t count = std::max<std::size_t>(settings->options.connections, 1);
    for (std::size_t i = 0; i < count; ++i) {
      auto on_up = [executor = executor, state = state] {
        asio::post(executor, [state] { state->run_up_hook(); });
      };
      std::string name = settings->name;
      if (count > 1)
        name += " (connection " + std::to_string(i + 1) + "/" + std::to_string(count) + ")";
      connections.push_back(
          std::make_shared<pipelined_connection>(executor, settings, std::move(name), on_up));
    }
  }

  // The next connection that is up, round robin; null when none is.
  std::shared_ptr<pipelined_connection> pick() {
    const std::size_t count = connections.size();
    const std::size_t first = next.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < count; ++i) {
      const auto& candidate = connections[(first + i) % count];
      if (candidate->up()) return candidate;
    }
    return nullptr;
  }

  static asio::awaitable<result<std::vector<reply>>> send(std::shared_ptr<impl> self,
                                                          std::string wire, std::size_t count);

  asio::any_io_executor executor;
  std::shared_ptr<const link_settings> settings;
  std::shared_ptr<shared_state> state;
  std::vector<std::shared_ptr<pipelined_connection>> connections;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> started{false};
};

asio::awaitable<result<std::vector<reply>>> client::impl::send(std::shared_ptr<impl> self,
                                                               std::string wire,
                                                               std::size_t count) {
  boost::system::error_code failure = errc::store_unavailable;
  try {
    if (self->state->stopped) co_return make_error_code(errc::shutting_down);
    // Never wait for a reconnect: a request must not hang on Redis.
    auto conn = self->pick();
    if (!conn) co_return make_error_code(errc::store_unavailable);
    auto [ec, replies] = co_await async_submit(std::move(conn), std::move(wire), count, use_tuple);
    if (ec) co_return ec;
    co_return std::move(replies);
  } catch (const boost::system::system_error& e) {
    // Asio throws operation_aborted at a co_await of a coroutine its caller
    // cancelled.
    failure = e.code();
  } catch (const std::exception& e) {
    spdlog::error("{}: call failed unexpectedly: {}", self->settings->name, e.what());
  }
  co_return failure;
}

client::client(asio::any_io_executor executor, endpoint where, client_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(where), std::move(options))) {}

client::~client() {
  stop();
}

void client::start() {
  if (impl_->started.exchange(true)) return;
  for (const auto& conn : impl_->connections) conn->start();
}

void client::stop() {
  if (impl_->state->stopped.exchange(true)) return;
  for (const auto& conn : impl_->connections) conn->stop();
}

asio::awaitable<result<reply>> client::execute(command cmd) {
  std::string wire;
  append_command(wire, cmd);
  auto replies = co_await impl::send(impl_, std::move(wire), 1);
  if (!replies) co_return replies.error();
  co_return std::move(replies->front());
}

asio::awaitable<result<std::vector<reply>>> client::pipeline(std::vector<command> cmds) {
  if (cmds.empty()) co_return std::vector<reply>{};
  co_return co_await impl::send(impl_, encode_commands(cmds), cmds.size());
}

asio::awaitable<result<reply>> client::eval(const script& s, std::vector<std::string> keys,
                                            std::vector<std::string> args) {
  command cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(s.sha1());
  cmd.push_back(std::to_string(keys.size()));
  for (auto& key : keys) cmd.push_back(std::move(key));
  for (auto& arg : args) cmd.push_back(std::move(arg));

  std::string wire;
  append_command(wire, cmd);
  auto first = co_await impl::send(impl_, std::move(wire), 1);
  if (!first) co_return first.error();
  reply& answer = first->front();
  if (!answer.is_error() || !answer.str.starts_with("NOSCRIPT")) co_return std::move(answer);

  // Not loaded on this server (a restart, SCRIPT FLUSH, a failover): EVAL
  // sends the source once, which also loads it for the next EVALSHA.
  cmd[0] = "EVAL";
  cmd[1] = s.source();
  wire.clear();
  append_command(wire, cmd);
  auto second = co_await impl::send(impl_, std::move(wire), 1);
  if (!second) co_return second.error();
  co_return std::move(second->front());
}

bool client::connected() const {
  if (impl_->state->stopped) return false;
  for (const auto& conn : impl_->connections) {
    if (conn->up()) return true;
  }
  return false;
}

void client::on_up(std::function<void()> hook) {
  std::lock_guard lock(impl_->state->hook_mutex);
  impl_->state->up_hook = std::move(hook);
}

}  // namespace jobrelay::redis
