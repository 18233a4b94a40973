// A Redis client on Asio: RESP over TCP, parsed by hiredis' reader, never a
// blocking call. A small pool of pipelined connections: commands from any
// coroutine are queued on a connection, written together, and answered in
// order. A connection that fails or does not answer within command_timeout is
// closed, its pending commands fail (errc::store_unavailable) and it
// reconnects with backoff; while no connection is up, commands fail at once
// rather than wait, so a request never hangs on Redis.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jobrelay/error.hpp"
#include "jobrelay/redis/url.hpp"

namespace jobrelay::redis {

// One RESP reply, owned. Errors from Redis ("-ERR ...", "-NOSCRIPT ...") are
// replies of kind error, not failures of the call.
struct reply {
  enum class kind { nil, integer, string, status, error, array };
  kind type = kind::nil;
  long long integer = 0;
  std::string str;  // string, status, error
  std::vector<reply> elements;

  bool is_nil() const { return type == kind::nil; }
  bool is_error() const { return type == kind::error; }
};

// {"SET", "k", "v"}. In a coroutine, build it before the co_await: GCC 12
// rejects (or worse, miscompiles) a braced list inside a co_await expression.
using command = std::vector<std::string>;

// A Lua script sent by EVALSHA, loaded (EVAL) on NOSCRIPT.
class script {
 public:
  explicit script(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;  // lowercase hex
};

struct client_options {
  std::size_t connections = 2;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{2000};
  // A PING on a connection quiet this long (the subscriber's, or one of the
  // client's); no answer within command_timeout means the peer is gone.
  std::chrono::milliseconds ping_interval{5000};
  // One reply (parsed and still unparsed bytes) larger than this breaks the
  // connection rather than the process's memory.
  std::size_t max_reply_bytes = 64 * 1024 * 1024;
  // rediss:// only: verify the server's certificate and name against the
  // system store, or against this CA file when it is set.
  bool tls_verify = true;
  std::string tls_ca_file;
};

class client {
 public:
  client(boost::asio::any_io_executor executor, endpoint where, client_options options = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Opens the connections (in the background; returns at once).
  void start();
  // Closes everything; pending and later commands fail (shutting_down).
  void stop();

  // Callable from any coroutine on any executor; completes on the caller's.
  // errc::store_unavailable when no connection is up or the one used fails.
  // A call is not cancellable (a caller's cancellation is ignored); it ends
  // by itself within command_timeout. No blocking commands (BLPOP, WAIT...):
  // they hold up every call pipelined behind them on the connection.
  boost::asio::awaitable<result<reply>> execute(command cmd);
  // Several commands in one write; replies in the same order. All fail
  // together on a connection failure.
  boost::asio::awaitable<result<std::vector<reply>>> pipeline(std::vector<command> cmds);
  // EVALSHA, falling back to EVAL when the server does not know the script.
  boost::asio::awaitable<result<reply>> eval(const script& s, std::vector<std::string> keys,
                                             std::vector<std::string> args);

  // At least one connection is up (for /readyz).
  bool connected() const;
  // Called (on the client's executor) each time a connection comes up after
  // being down, and when the client as a whole goes from no connection to one.
  // In practice: once per connection that comes up, its first connect
  // included (the two events above coincide into one call).
  void on_up(std::function<void()> hook);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

// One connection in subscribe mode for a replica: SUBSCRIBE to channels,
// messages delivered to a callback on the subscriber's executor. Reconnects
// with backoff and re-subscribes; on_up tells the owner that messages may
// have been lost meanwhile (so it can wake every waiter to re-read).
class subscriber {
 public:
  subscriber(boost::asio::any_io_executor executor, endpoint where, client_options options = {});
  ~subscriber();
  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  // Set before start().
  void on_message(std::function<void(std::string_view channel, std::string_view payload)> hook);
  void on_up(std::function<void()> hook);

  void start(std::vector<std::string> channels);
  void stop();
  bool connected() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace jobrelay::redis
