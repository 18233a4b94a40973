#include "jobrelay/upstream/http_client.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <variant>

namespace jobrelay::upstream {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto idle_keep = std::chrono::seconds(30);

std::string http_reply::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

namespace {

struct target_url {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string host_header;
  std::string target;  // path + query
  std::string origin;  // pool key
};

result<target_url> parse_target(const std::string& url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return errc::upstream_bad_url;
  target_url t;
  const auto scheme = u->scheme_id();
  if (scheme == boost::urls::scheme::https) t.tls = true;
  else if (scheme != boost::urls::scheme::http) return errc::upstream_bad_url;
  if (u->host_type() == boost::urls::host_type::ipv6) t.host = u->host_address();
  else t.host = u->host();
  if (t.host.empty() || u->has_userinfo()) return errc::upstream_bad_url;
  t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
  if (t.port.empty()) t.port = t.tls ? "443" : "80";
  t.host_header = std::string(u->encoded_host_and_port());
  t.target = std::string(u->encoded_path());
  if (t.target.empty()) t.target = "/";
  if (u->has_query()) t.target += "?" + std::string(u->encoded_query());
  t.origin = (t.tls ? "https://" : "http://") + t.host + ":" + t.port;
  return t;
}

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

struct connection {
  std::string origin;
  std::variant<plain_stream, tls_stream> stream;
  beast::flat_buffer buffer;
  clock_type::time_point idle_since{};

  beast::tcp_stream& tcp() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }, stream);
  }
};

bool is_closed_error(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
         ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

struct http_client::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor e, client_options o)
      : executor(std::move(e)), options(std::move(o)), tls(ssl::context::tls_client) {
    if (options.tls_verify) {
      tls.set_verify_mode(ssl::verify_peer);
      if (!options.tls_ca_file.empty()) tls.load_verify_file(options.tls_ca_file);  // throws at start-up
      else tls.set_default_verify_paths();
    } else {
      tls.set_verify_mode(ssl::verify_none);
    }
  }

  asio::any_io_executor executor;
  client_options options;
  ssl::context tls;

  std::mutex mutex;
  std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle;
  std::size_t open = 0;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters;
  bool stopped = false;

  void wake_one_locked() {
    if (waiters.empty()) return;
    auto w = std::move(waiters.front());
    waiters.pop_front();
    asio::post(w->get_executor(), [w] { w->cancel(); });
  }

  // A pooled connection, or nullptr with a reserved slot for a new one.
  asio::awaitable<result<std::unique_ptr<connection>>> acquire(const std::string& origin,
                                                               clock_type::time_point deadline) {
    for (;;) {
      std::shared_ptr<asio::steady_timer> waiter;
      {
        std::lock_guard lock(mutex);
        if (stopped) co_return errc::shutting_down;
        auto& list = idle[origin];
        while (!list.empty()) {
          auto c = std::move(list.back());
          list.pop_back();
          if (clock_type::now() - c->idle_since < idle_keep) co_return std::move(c);
          --open;  // too old: the peer has likely dropped it
        }
        if (open < options.max_connections) {
          ++open;
          co_return std::unique_ptr<connection>();
        }
        for (auto& [key, conns] : idle) {  // evict an idle connection to another origin
          if (!conns.empty()) {
            conns.pop_back();
            co_return std::unique_ptr<connection>();
          }
        }
        waiter = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor, deadline);
        waiters.push_back(waiter);
      }
      co_await waiter->async_wait(nothrow);
      if (clock_type::now() >= deadline) {
        std::lock_guard lock(mutex);
        std::erase(waiters, waiter);
        co_return errc::upstream_timeout;
      }
    }
  }

  void release(std::unique_ptr<connection> c, bool reusable) {
    std::lock_guard lock(mutex);
    if (c && reusable && !stopped) {
      c->idle_since = clock_type::now();
      idle[c->origin].push_back(std::move(c));
    } else {
      --open;
    }
    wake_one_locked();
  }

  asio::awaitable<result<std::unique_ptr<connection>>> connect(const target_url& t,
                                                               clock_type::time_point deadline) {
    using namespace asio::experimental::awaitable_operators;
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    asio::steady_timer timer(ex, deadline);
    auto raced = co_await (resolver.async_resolve(t.host, t.port, nothrow) || timer.async_wait(nothrow));
    if (raced.index() == 1) co_return errc::upstream_timeout;
    auto [rec, endpoints] = std::get<0>(raced);
    if (rec) co_return errc::upstream_resolve_failed;

    auto c = std::make_unique<connection>(connection{t.origin, plain_stream(ex), {}, {}});
    auto& tcp_layer = c->tcp();
    const auto connect_deadline = std::min(deadline, clock_type::now() + options.connect_timeout);
    tcp_layer.expires_at(connect_deadline);
    if (auto [ec, ep] = co_await tcp_layer.async_connect(endpoints, nothrow); ec) {
      if (ec == beast::error::timeout && clock_type::now() >= deadline) co_return errc::upstream_timeout;
      co_return errc::upstream_connect_failed;
    }
    tcp_layer.socket().set_option(tcp::no_delay(true));
    if (!t.tls) co_return c;

    tls_stream secure(std::move(std::get<plain_stream>(c->stream)), tls);
    boost::system::error_code not_ip;
    asio::ip::make_address(t.host, not_ip);
    if (not_ip)  // SNI carries names only SSL_set_tlsext_host_name(secure.native_handle(), t.host.c_str());
    if (options.tls_verify) secure.set_verify_callback(ssl::host_name_verification(t.host));
    beast::get_lowest_layer(secure).expires_at(deadline);
    if (auto [ec] = co_await secure.async_handshake(ssl::stream_base::client, nothrow); ec) {
      if (ec == beast::error::timeout) co_return errc::upstream_timeout;
      spdlog::debug("TLS handshake with {} failed: {}", t.origin, ec.message());
      co_return errc::upstream_tls_failed;
    }
    c->stream.emplace<tls_stream>(std::move(secure));
    co_return c;
  }

  struct exchange_result {
    boost::system::error_code ec;
    bool got_bytes = false;
    bool reusable = false;
  };

  asio::awaitable<exchange_result> exchange(connection& c, bhttp::request<bhttp::string_body>& req,
                                            http_reply& out, clock_type::time_point deadline) {
    exchange_result r;
    c.tcp().expires_at(deadline);
    auto [wec, wn] = co_await std::visit(
        [&](auto& s) { return bhttp::async_write(s, req, nothrow); }, c.stream);
    if (wec) {
      r.ec = wec;
      co_return r;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(options.max_response_bytes);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    c.tcp().expires_at(deadline);
    auto [rec, rn] = co_await std::visit(
        [&](auto& s) { return bhttp::async_read(s, c.buffer, parser, nothrow); }, c.stream);
    r.got_bytes = parser.got_some();
    if (rec) {
      r.ec = rec;
      co_return r;
    }
    auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    out.body = std::move(res.body());
    r.reusable = res.keep_alive() && res.version() == 11;
    co_return r;
  }

  asio::awaitable<result<http_reply>> send(http_call call) {
    const auto deadline = clock_type::now() + options.request_timeout;
    auto t = parse_target(call.url);
    if (!t) co_return t.error();

    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(call.method), t->target, 11};
    if (req.method() == bhttp::verb::unknown) co_return errc::upstream_bad_url;
    req.set(bhttp::field::host, t->host_header);
    req.set(bhttp::field::user_agent, "jobrelay/0.1");
    req.set(bhttp::field::accept, "application/json");
    for (const auto& [k, v] : call.headers) req.set(k, v);
    if (!call.body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = std::move(call.body);
    }
    req.keep_alive(true);
    req.prepare_payload();

    // A pooled connection may have been closed by the peer while idle; that
    // shows as an error before any response byte, and earns one fresh retry.
    for (int round = 0; round < 2; ++round) {
      auto slot = co_await acquire(t->origin, deadline);
      if (!slot) co_return slot.error();
      std::unique_ptr<connection> c = std::move(*slot);
      const bool reused = c != nullptr;
      if (!c) {
        auto fresh = co_await connect(*t, deadline);
        if (!fresh) {
          release(nullptr, false);
          co_return fresh.error();
        }
        c = std::move(*fresh);
      }
      http_reply out;
      auto r = co_await exchange(*c, req, out, deadline);
      if (!r.ec) {
        release(std::move(c), r.reusable);
        co_return out;
      }
      release(nullptr, false);  // the connection is not reused after any error
      if (reused && !r.got_bytes && is_closed_error(r.ec) && clock_type::now() < deadline) continue;
      if (r.ec == beast::error::timeout) co_return errc::upstream_timeout;
      if (r.ec == bhttp::error::body_limit || r.ec == bhttp::error::header_limit ||
          r.ec == bhttp::error::buffer_overflow)
        co_return errc::upstream_response_too_large;
      if (is_closed_error(r.ec)) co_return errc::upstream_closed;
      if (r.ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category())
        co_return errc::upstream_bad_response;  // the answer is not HTTP
      co_return errc::upstream_closed;
    }
    co_return errc::upstream_closed;
  }
};

http_client::http_client(asio::any_io_executor executor, client_options options)
    : impl_(std::make_shared<impl>(std::move(executor), std::move(options))) {}

http_client::~http_client() { shutdown(); }

asio::awaitable<result<http_reply>> http_client::send(http_call call) {
  auto keep = impl_;  // the pool outlives calls in flight
  co_return co_await keep->send(std::move(call));
}

void http_client::shutdown() {
  std::lock_guard lock(impl_->mutex);
  impl_->stopped = true;
  for (auto& [origin, conns] : impl_->idle) {
    impl_->open -= conns.size();
    conns.clear();
  }
  while (!impl_->waiters.empty()) impl_->wake_one_locked();
}

std::size_t http_client::open_connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->open;
}

}  // namespace jobrelay::upstream
