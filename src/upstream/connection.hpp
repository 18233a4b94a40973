// One keep-alive connection to an origin, plain or TLS. It is used by one call
// at a time; between calls it sits idle in the pool.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "jobrelay/http/message.hpp"
#include "jobrelay/upstream/http_client.hpp"
#include "jobrelay/upstream/target.hpp"

namespace jobrelay::upstream::detail {

using steady_time = std::chrono::steady_clock::time_point;

struct exchange_result {
  result<http_reply> reply = make_error_code(errc::upstream_closed);
  bool reusable = false;          // complete HTTP/1.1 keep-alive answer, nothing left over
  bool nothing_received = false;  // failed before a single response byte: safe to retry
};

struct read_limits {
  std::uint64_t max_body_bytes = 0;
  std::uint32_t max_header_bytes = 65536;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  // tls_context null: plain TCP.
  connection(const boost::asio::any_io_executor& executor, origin where,
             boost::asio::ssl::context* tls_context);

  const origin& where() const { return where_; }
  bool is_tls() const { return tls_.has_value(); }
  boost::asio::ip::tcp::socket& socket();
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& tls_stream() { return *tls_; }

  // Idempotent; also how deadlines interrupt pending operations.
  void close() noexcept;

  // A cheap look at an idle socket: false when the peer has closed it or sent
  // bytes nobody asked for. It cannot see every dead connection; the retry in
  // the client covers the rest.
  bool looks_alive() noexcept;

  steady_time idle_since() const { return idle_since_; }
  void mark_idle(steady_time now) { idle_since_ = now; }

  // Writes the request (its serialized bytes) and reads the whole answer,
  // all before `deadline`.
  // Runs on the calling coroutine's strand.
  boost::asio::awaitable<exchange_result> exchange(std::string_view request,
                                                   steady_time deadline, read_limits limits,
                                                   bool head_request);

 private:
  template <class Stream>
  boost::asio::awaitable<exchange_result> exchange_on(Stream& stream, std::string_view request,
                                                      steady_time deadline, read_limits limits,
                                                      bool head_request);

  // An exchange's deadline: one timer per connection, armed lazily. A wait
  // already pending serves the next exchange when it ends no later than that
  // exchange's deadline and its handler runs on that exchange's executor;
  // when it fires early it re-arms for the deadline then in force, and when
  // no exchange is in flight it rests. So a busy pooled connection arms its
  // timer about once per request_timeout instead of arming and cancelling a
  // timer (with its shared state and std::function) on every call.
  void watch_exchange(const boost::asio::any_io_executor& call_executor, steady_time due);
  void end_exchange();
  bool deadline_fired();
  void arm_deadline_timer_locked(const boost::asio::any_io_executor& handler_executor,
                                 steady_time when);
  void on_deadline_timer(unsigned generation);

  static constexpr std::size_t initial_read_buffer = 8192;

  origin where_;
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  boost::beast::flat_buffer buffer_;
  steady_time idle_since_{};

  // The deadline state is shared by the exchange's executor and the timer's
  // handler, and a pooled connection serves calls from different strands (and
  // close() comes from anywhere): hence the mutex. The handler only closes
  // the socket while it runs on the executor of the exchange in flight.
  std::mutex deadline_mutex_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::any_io_executor timer_handler_executor_;
  steady_time timer_expiry_{};
  steady_time exchange_due_{};
  unsigned timer_generation_ = 0;  // a handler of an older arming stays quiet
  bool timer_waiting_ = false;
  bool exchange_active_ = false;
  bool deadline_fired_ = false;
};

struct connect_settings {
  // The client's executor, for the socket. Not the call's strand: a pooled
  // socket outlives that call, and completions go to whichever coroutine
  // awaits them anyway.
  boost::asio::any_io_executor io_executor;
  std::chrono::milliseconds connect_timeout{3000};
  boost::asio::ssl::context* tls_context = nullptr;  // needed for https origins
  bool tls_verify = true;
};

// Resolves, connects (bounded also by connect_timeout) and, for https, does the
// TLS handshake with SNI and host name verification; all before `deadline`.
boost::asio::awaitable<result<std::shared_ptr<connection>>> open_connection(
    const origin& where, steady_time deadline, const connect_settings& settings);

}  // namespace jobrelay::upstream::detail
