#include "scripted_upstream.hpp"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

namespace jobrelay::testing {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
}  // namespace

// ---- recorded_request / upstream_action ------------------------------------

std::string recorded_request::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

upstream_action upstream_action::respond(unsigned status, std::string body) {
  upstream_action a;
  a.what = kind::respond;
  a.status = status;
  a.body = std::move(body);
  return a;
}

upstream_action upstream_action::hang() {
  upstream_action a;
  a.what = kind::hang;
  return a;
}

upstream_action upstream_action::close() {
  upstream_action a;
  a.what = kind::close;
  return a;
}

upstream_action upstream_action::garbage(std::string bytes) {
  upstream_action a;
  a.what = kind::garbage;
  a.body = std::move(bytes);
  return a;
}

upstream_action upstream_action::partial(std::string body_start, std::size_t declared_length) {
  upstream_action a;
  a.what = kind::partial;
  a.body = std::move(body_start);
  a.declared_length = declared_length;
  return a;
}

upstream_action upstream_action::slow_body(std::string body, std::chrono::milliseconds chunk_delay,
                                           std::size_t chunk_size, unsigned status) {
  upstream_action a;
  a.what = kind::slow_body;
  a.status = status;
  a.body = std::move(body);
  a.chunk_delay = chunk_delay;
  a.chunk_size = std::max<std::size_t>(1, chunk_size);
  return a;
}

upstream_action& upstream_action::header(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

upstream_action& upstream_action::after(std::chrono::milliseconds wait) {
  delay = wait;
  return *this;
}

upstream_action& upstream_action::closing() {
  close_after = true;
  return *this;
}

upstream_action& upstream_action::dropping() {
  drop_after = true;
  return *this;
}

upstream_action& upstream_action::then_close() {
  close_after = true;
  return *this;
}

upstream_action& upstream_action::http10() {
  version = 10;
  return *this;
}

upstream_handler sequence(std::vector<upstream_action> actions) {
  if (actions.empty()) actions.push_back(upstream_action::respond());
  auto state = std::make_shared<std::pair<std::mutex, std::size_t>>();
  return [actions = std::move(actions), state](const recorded_request&) {
    std::lock_guard lock(state->first);
    const std::size_t i = std::min(state->second++, actions.size() - 1);
    return actions[i];
  };
}

// ---- the server -------------------------------------------------------------

struct scripted_upstream::impl {
  // Touched from any thread, under mutex.
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  upstream_handler handler;
  std::vector<recorded_request> requests;
  std::size_t accepted = 0;
  std::size_t open = 0;
  std::size_t peak = 0;

  // Touched only on the server thread.
  std::map<std::size_t, std::function<void()>> closers;

  std::optional<ssl::context> tls;
  bool tls_enabled = false;
  std::uint16_t port = 0;
  std::once_flag stopped;
  // Last, so that its pending coroutines (which use everything above) are
  // destroyed first; stop() resets it explicitly anyway.
  std::optional<asio::io_context> io;
  std::thread thread;

  void start(upstream_handler h, const tls_identity* identity);
  void stop();

  asio::awaitable<void> accept_loop(tcp::acceptor acceptor);
  asio::awaitable<void> session(tcp::socket socket, std::size_t id);
  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, std::size_t id, std::string server_name);
  template <class Stream>
  asio::awaitable<bool> act(Stream& stream, const bhttp::request<bhttp::string_body>& request,
                            const upstream_action& action);
  upstream_action record_and_decide(recorded_request request);
  void connection_ended(std::size_t id);
};

namespace {

template <class Stream>
void close_stream(Stream& stream) {
  boost::system::error_code ignored;
  auto& socket = beast::get_lowest_layer(stream);
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

// Reads and discards until the peer goes away: a hung server that still
// notices its client leaving, so open_connections() stays truthful.
template <class Stream>
asio::awaitable<void> drain(Stream& stream) {
  char scratch[1024];
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), use_tuple);
    if (ec) co_return;
  }
}

std::string reason_for(unsigned status) {
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return reason.empty() ? "Unknown" : std::string(reason);
}

// A head written by hand: partial and slow bodies need a Content-Length that
// is not the body's.
std::string raw_head(const upstream_action& action, std::size_t content_length, bool keep_alive) {
  std::string head = "HTTP/1." + std::to_string(action.version == 10 ? 0 : 1) + " " +
                     std::to_string(action.status) + " " + reason_for(action.status) + "\r\n";
  bool has_type = false;
  for (const auto& [name, value] : action.headers) {
    if (beast::iequals(name, "content-type")) has_type = true;
    if (beast::iequals(name, "content-length") || beast::iequals(name, "connection")) continue;
    head += name + ": " + value + "\r\n";
  }
  if (!has_type) head += "Content-Type: application/json\r\n";
  head += "Content-Length: " + std::to_string(content_length) + "\r\n";
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

}  // namespace

void scripted_upstream::impl::start(upstream_handler h, const tls_identity* identity) {
  handler = std::move(h);
  if (identity != nullptr) {
    tls.emplace(ssl::context::tls_server);
    tls->use_certificate_chain(asio::buffer(identity->cert_pem));
    tls->use_private_key(asio::buffer(identity->key_pem), ssl::context::pem);
    tls_enabled = true;
  }
  io.emplace(1);
  tcp::acceptor acceptor(*io);
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  port = acceptor.local_endpoint().port();
  asio::co_spawn(*io, accept_loop(std::move(acceptor)), asio::detached);
  thread = std::thread([this] { io->run(); });
}

void scripted_upstream::impl::stop() {
  std::call_once(stopped, [this] {
    io->stop();
    thread.join();
    // Destroys the suspended sessions (closing their sockets) while the state
    // they report to still exists.
    io.reset();
  });
}

asio::awaitable<void> scripted_upstream::impl::accept_loop(tcp::acceptor acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) {
      if (!acceptor.is_open()) co_return;
      continue;  // e.g. EMFILE; keep serving the rest
    }
    std::size_t id = 0;
    {
      std::lock_guard lock(mutex);
      id = ++accepted;
      peak = std::max(peak, ++open);
    }
    changed.notify_all();
    asio::co_spawn(*io, session(std::move(socket), id), asio::detached);
  }
}

void scripted_upstream::impl::connection_ended(std::size_t id) {
  closers.erase(id);
  {
    std::lock_guard lock(mutex);
    --open;
  }
  changed.notify_all();
}

asio::awaitable<void> scripted_upstream::impl::session(tcp::socket socket, std::size_t id) {
  // Counts the connection closed however the session ends, stop() included.
  struct ended {
    impl* self;
    std::size_t id;
    ~ended() { self->connection_ended(id); }
  } on_exit{this, id};

  if (tls_enabled) {
    ssl::stream<tcp::socket> stream(std::move(socket), *tls);
    closers[id] = [&stream] { close_stream(stream); };
    auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, use_tuple);
    if (!ec) {
      const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
      co_await serve(stream, id, sni != nullptr ? sni : "");
    }
    closers.erase(id);
    close_stream(stream);
  } else {
    closers[id] = [&socket] { close_stream(socket); };
    co_await serve(socket, id, "");
    closers.erase(id);
    close_stream(socket);
  }
}

upstream_action scripted_upstream::impl::record_and_decide(recorded_request request) {
  upstream_handler current;
  {
    std::lock_guard lock(mutex);
    requests.push_back(request);
    current = handler;
  }
  changed.notify_all();
  if (!current) return upstream_action::respond();
  try {
    return current(request);
  } catch (const std::exception& e) {
    return upstream_action::respond(
        500, std::string(R"({"scripted_upstream":"handler threw: )") + e.what() + "\"}");
  }
}

template <class Stream>
asio::awaitable<void> scripted_upstream::impl::serve(Stream& stream, std::size_t id,
                                                 std::string server_name) {
  beast::flat_buffer buffer;
  for (;;) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (ec) co_return;
    bhttp::request<bhttp::string_body> request = parser.release();

    recorded_request record;
    record.method = std::string(request.method_string());
    record.target = std::string(request.target());
    for (const auto& field : request) {
      record.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    record.body = request.body();
    record.connection = id;
    record.tls_server_name = server_name;
    const upstream_action action = record_and_decide(std::move(record));

    if (action.delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, action.delay);
      co_await timer.async_wait(use_tuple);
    }
    const bool keep_going = co_await act(stream, request, action);
    if (!keep_going) co_return;
  }
}

// Carries out one action; false when the connection is done.
template <class Stream>
asio::awaitable<bool> scripted_upstream::impl::act(Stream& stream,
                                               const bhttp::request<bhttp::string_body>& request,
                                               const upstream_action& action) {
  using kind = upstream_action::kind;
  const bool keep_alive = request.keep_alive() && !action.close_after && action.version == 11;

  if (action.what == kind::respond) {
    bhttp::response<bhttp::string_body> response;
    response.result(action.status);
    response.version(action.version);
    if (!action.body.empty()) response.set(bhttp::field::content_type, "application/json");
    for (const auto& [name, value] : action.headers) response.erase(name);
    for (const auto& [name, value] : action.headers) response.insert(name, value);
    response.body() = action.body;
    response.keep_alive(keep_alive);
    response.prepare_payload();
    auto [ec, n] = co_await bhttp::async_write(stream, response, use_tuple);
    co_return !ec && keep_alive && !action.drop_after;
  }
  if (action.what == kind::hang) {
    co_await drain(stream);
    co_return false;
  }
  if (action.what == kind::close) co_return false;
  if (action.what == kind::garbage) {
    co_await asio::async_write(stream, asio::buffer(action.body), use_tuple);
    co_return false;
  }
  if (action.what == kind::partial) {
    const std::string bytes = raw_head(action, action.declared_length, true) + action.body;
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(bytes), use_tuple);
    if (!ec && !action.close_after) co_await drain(stream);
    co_return false;
  }
  // slow_body
  const std::string head = raw_head(action, action.body.size(), keep_alive);
  auto [head_ec, head_n] = co_await asio::async_write(stream, asio::buffer(head), use_tuple);
  if (head_ec) co_return false;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (std::size_t at = 0; at < action.body.size(); at += action.chunk_size) {
    timer.expires_after(action.chunk_delay);
    co_await timer.async_wait(use_tuple);
    const std::size_t size = std::min(action.chunk_size, action.body.size() - at);
    auto [ec, n] =
        co_await asio::async_write(stream, asio::buffer(action.body.data() + at, size), use_tuple);
    if (ec) co_return false;
  }
  co_return keep_alive;
}

// ---- public face --------------------------------------------------------------

scripted_upstream::scripted_upstream(upstream_handler handler) : impl_(std::make_unique<impl>()) {
  impl_->start(std::move(handler), nullptr);
}

scripted_upstream::scripted_upstream(upstream_handler handler, const tls_identity& identity)
    : impl_(std::make_unique<impl>()) {
  impl_->start(std::move(handler), &identity);
}

scripted_upstream::~scripted_upstream() {
  stop();
}

void scripted_upstream::stop() {
  impl_->stop();
}

std::uint16_t scripted_upstream::port() const {
  return impl_->port;
}

std::string scripted_upstream::base_url(std::string_view host) const {
  return std::string(impl_->tls_enabled ? "https://" : "http://") + std::string(host) + ":" +
         std::to_string(impl_->port);
}

std::string scripted_upstream::url(std::string_view target, std::string_view host) const {
  return base_url(host) + std::string(target);
}

void scripted_upstream::set_handler(upstream_handler handler) {
  std::lock_guard lock(impl_->mutex);
  impl_->handler = std::move(handler);
}

std::vector<recorded_request> scripted_upstream::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

std::size_t scripted_upstream::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests.size();
}

std::size_t scripted_upstream::accepted_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

std::size_t scripted_upstream::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open;
}

std::size_t scripted_upstream::peak_open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->peak;
}

bool scripted_upstream::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->requests.size() >= n; });
}

bool scripted_upstream::wait_for_open_connections(std::size_t n,
                                              std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->open == n; });
}

void scripted_upstream::close_all_connections() {
  std::promise<void> done;
  auto finished = done.get_future();
  {
    // After stop() there is nothing to close and nobody to run the post.
    if (!impl_->io) return;
    asio::post(*impl_->io, [this, &done] {
      for (auto& [id, close] : impl_->closers) close();
      done.set_value();
    });
  }
  finished.wait();
}

}  // namespace jobrelay::testing
