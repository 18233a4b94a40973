#include "connection.hpp"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "error_mapping.hpp"
#include "watchdog.hpp"

namespace jobrelay::upstream::detail {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

boost::system::error_code code(errc e) {
  return make_error_code(e);
}

// Parses an answer straight into an http_reply. Beast's response_parser
// builds a basic_fields (a heap node per header) and a message that were then
// copied field by field; and its async_read is three layers of composed
// operations per read, where a plain read and put() serve.
class reply_parser : public bhttp::basic_parser<false> {
 public:
  unsigned version() const { return version_; }
  http_reply release() { return std::move(reply_); }

 private:
  void on_request_impl(bhttp::verb, boost::core::string_view, boost::core::string_view, int,
                       boost::system::error_code&) override {}
  void on_response_impl(int status, boost::core::string_view, int version,
                        boost::system::error_code&) override {
    reply_.status = static_cast<unsigned>(status);
    version_ = static_cast<unsigned>(version);
  }
  void on_field_impl(bhttp::field, boost::core::string_view name, boost::core::string_view value,
                     boost::system::error_code&) override {
    reply_.add_header({name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         boost::system::error_code&) override {
    // Bounded: the parser refused a length over body_limit before this.
    if (length) reply_.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(boost::core::string_view bytes, boost::system::error_code&) override {
    reply_.body.append(bytes.data(), bytes.size());
    return bytes.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::core::string_view,
                            boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::core::string_view bytes,
                                 boost::system::error_code&) override {
    reply_.body.append(bytes.data(), bytes.size());
    return bytes.size();
  }
  void on_finish_impl(boost::system::error_code&) override {}

  http_reply reply_;
  unsigned version_ = 0;
};

}  // namespace

connection::connection(const asio::any_io_executor& executor, origin where,
                       ssl::context* tls_context)
    : where_(std::move(where)), deadline_timer_(executor) {
  // Beast reads max(512, free capacity) at a time: without room up front a
  // finished job's status document (a few KB) took three reads.
  buffer_.reserve(initial_read_buffer);
  if (tls_context != nullptr) {
    tls_.emplace(executor, *tls_context);
  } else {
    plain_.emplace(executor);
  }
}

tcp::socket& connection::socket() {
  return tls_ ? tls_->next_layer() : *plain_;
}

void connection::close() noexcept {
  {
    // A wait left pending would hold the connection's timer (and the
    // io_context's work count) until it expired.
    std::lock_guard lock(deadline_mutex_);
    ++timer_generation_;
    timer_waiting_ = false;
    deadline_timer_.cancel();
  }
  boost::system::error_code ignored;
  socket().shutdown(tcp::socket::shutdown_both, ignored);
  socket().close(ignored);
}

void connection::watch_exchange(const asio::any_io_executor& call_executor, steady_time due) {
  std::lock_guard lock(deadline_mutex_);
  exchange_due_ = due;
  exchange_active_ = true;
  deadline_fired_ = false;
  if (timer_waiting_ && timer_expiry_ <= due && timer_handler_executor_ == call_executor) return;
  arm_deadline_timer_locked(call_executor, due);
}

void connection::end_exchange() {
  std::lock_guard lock(deadline_mutex_);
  exchange_active_ = false;
}

bool connection::deadline_fired() {
  std::lock_guard lock(deadline_mutex_);
  return deadline_fired_;
}

void connection::arm_deadline_timer_locked(const asio::any_io_executor& handler_executor,
                                           steady_time when) {
  const unsigned generation = ++timer_generation_;
  timer_waiting_ = true;
  timer_expiry_ = when;
  timer_handler_executor_ = handler_executor;
  deadline_timer_.expires_at(when);  // a pending wait ends with operation_aborted
  // A weak reference: an idle connection's resting wait must not keep it alive.
  deadline_timer_.async_wait(asio::bind_executor(
      handler_executor, [weak = weak_from_this(), generation](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        if (const auto self = weak.lock()) self->on_deadline_timer(generation);
      }));
}

void connection::on_deadline_timer(unsigned generation) {
  std::unique_lock lock(deadline_mutex_);
  if (generation != timer_generation_) return;  // re-armed or closed since it expired
  timer_waiting_ = false;
  if (!exchange_active_) return;  // rests until the next exchange
  if (std::chrono::steady_clock::now() < exchange_due_) {
    // Armed for an earlier exchange; the one in flight runs on this executor
    // (watch_exchange re-arms otherwise).
    arm_deadline_timer_locked(timer_handler_executor_, exchange_due_);
    return;
  }
  deadline_fired_ = true;
  lock.unlock();
  close();
}

bool connection::looks_alive() noexcept {
  tcp::socket& s = socket();
  if (!s.is_open()) return false;
  char byte = 0;
  const ssize_t n = ::recv(s.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // 0 is an orderly close; data means the peer said something unasked (a TLS
  // close_notify, a late error page): either way not a clean slate.
  if (n >= 0) return false;
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

// Not a coroutine: the stream's own is returned, one frame less per call.
asio::awaitable<exchange_result> connection::exchange(std::string_view request,
                                                      steady_time deadline, read_limits limits,
                                                      bool head_request) {
  if (tls_) return exchange_on(*tls_, request, deadline, limits, head_request);
  return exchange_on(*plain_, request, deadline, limits, head_request);
}

template <class Stream>
asio::awaitable<exchange_result> connection::exchange_on(Stream& stream,
                                                         std::string_view request,
                                                         steady_time deadline, read_limits limits,
                                                         bool head_request) {
  exchange_result out;
  if (std::chrono::steady_clock::now() >= deadline) {
    out.reply = code(errc::upstream_timeout);
    out.nothing_received = true;
    co_return out;
  }

  {
    auto executor = co_await asio::this_coro::executor;
    watch_exchange(executor, deadline);
  }
  // Every way out of the exchange ends the watch.
  struct exchange_watch {
    connection& conn;
    ~exchange_watch() { conn.end_exchange(); }
  } watching{*this};

  buffer_.clear();
  auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(request), use_tuple);
  if (write_ec) {
    out.reply = code(deadline_fired() ? errc::upstream_timeout : errc::upstream_closed);
    out.nothing_received = true;
    co_return out;
  }

  reply_parser parser;
  parser.body_limit(limits.max_body_bytes);
  parser.header_limit(limits.max_header_bytes);
  parser.eager(true);  // one put() runs on from the head into the body
  if (head_request) parser.skip(true);

  boost::system::error_code read_ec;
  while (!parser.is_done()) {
    if (buffer_.size() > 0) {
      const std::size_t used = parser.put(buffer_.data(), read_ec);
      buffer_.consume(used);
      if (read_ec == bhttp::error::need_more) read_ec = {};
      if (read_ec || parser.is_done()) break;
    }
    // Whatever room the buffer has, at least a page: a status document
    // usually arrives in one read.
    const std::size_t room = std::max<std::size_t>(buffer_.capacity() - buffer_.size(), 4096);
    auto [ec, got] = co_await stream.async_read_some(buffer_.prepare(room), use_tuple);
    if (ec == asio::error::eof && parser.got_some()) {
      // The end of a body that runs to the close, or a message cut short.
      parser.put_eof(read_ec);
      break;
    }
    if (ec) {
      read_ec = ec == asio::error::eof ? make_error_code(bhttp::error::end_of_stream) : ec;
      break;
    }
    buffer_.commit(got);
  }
  if (read_ec) {
    const auto* data = static_cast<const char*>(buffer_.data().data());
    const std::string_view unparsed(data, buffer_.size());
    out.nothing_received = !parser.got_some() && unparsed.empty();
    out.reply =
        code(deadline_fired() ? errc::upstream_timeout : classify_read_error(read_ec, unparsed));
    co_return out;
  }

  // HTTP/1.0 keep-alive is a dialect nobody needs any more; don't bet on it.
  out.reusable =
      parser.version() == 11 && parser.keep_alive() && buffer_.size() == 0 && socket().is_open();
  out.reply = parser.release();
  co_return out;
}

namespace {

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

}  // namespace

asio::awaitable<result<std::shared_ptr<connection>>> open_connection(
    const origin& where, steady_time deadline, const connect_settings& settings) {
  if (where.tls && settings.tls_context == nullptr) co_return code(errc::upstream_tls_failed);
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) co_return code(errc::upstream_timeout);
  const steady_time connect_deadline = std::min(deadline, now + settings.connect_timeout);

  auto executor = co_await asio::this_coro::executor;
  watchdog guard(executor);

  // Name resolution runs in Asio's resolver thread; cancel() lets the call
  // report the timeout, though only once getaddrinfo itself has returned.
  tcp::resolver resolver(executor);
  guard.arm(connect_deadline, [&resolver] { resolver.cancel(); });
  const std::string port = std::to_string(where.port);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(where.host, port, use_tuple);
  if (resolve_ec) {
    co_return code(guard.fired() ? errc::upstream_timeout : errc::upstream_resolve_failed);
  }

  auto conn = std::make_shared<connection>(settings.io_executor, where,
                                           where.tls ? settings.tls_context : nullptr);
  guard.arm(connect_deadline, [conn] { conn->close(); });
  auto [connect_ec, endpoint] = co_await asio::async_connect(conn->socket(), endpoints, use_tuple);
  if (connect_ec) {
    co_return code(guard.fired() ? errc::upstream_timeout : errc::upstream_connect_failed);
  }
  boost::system::error_code ignored;
  conn->socket().set_option(tcp::no_delay(true), ignored);

  if (where.tls) {
    auto& stream = conn->tls_stream();
    // SNI carries names only; RFC 6066 forbids literal addresses there.
    if (!is_ip_literal(where.host) &&
        SSL_set_tlsext_host_name(stream.native_handle(), where.host.c_str()) != 1) {
      co_return code(errc::upstream_tls_failed);
    }
    if (settings.tls_verify) {
      stream.set_verify_mode(ssl::verify_peer);
      stream.set_verify_callback(ssl::host_name_verification(where.host));
    } else {
      stream.set_verify_mode(ssl::verify_none);
    }
    guard.arm(deadline, [conn] { conn->close(); });
    auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
    if (handshake_ec) {
      co_return code(guard.fired() ? errc::upstream_timeout : errc::upstream_tls_failed);
    }
  }
  guard.disarm();
  co_return conn;
}

}  // namespace jobrelay::upstream::detail
