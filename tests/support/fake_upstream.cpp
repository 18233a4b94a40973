#include "fake_upstream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <mutex>
#include <thread>

#include "test_tls.hpp"

namespace jobrelay::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::string fake_request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return {};
}

struct fake_upstream::impl {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<asio::ssl::context> tls;
  mutable std::mutex mutex;
  handler on_request;
  std::vector<fake_request> seen;
  std::size_t accepted = 0;
  std::thread thread;

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, req, nothrow);
      if (ec) co_return;
      fake_request r{std::string(bhttp::to_string(req.method())), std::string(req.target()), {}, req.body()};
      for (const auto& f : req) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      handler h;
      {
        std::lock_guard lock(mutex);
        seen.push_back(r);
        h = on_request;
      }
      const fake_action a = h(r);
      switch (a.what) {
        case fake_action::kind::respond: {
          bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(a.status), 11};
          for (const auto& [k, v] : a.headers) res.set(k, v);
          if (!a.body.empty() && res[bhttp::field::content_type].empty())
            res.set(bhttp::field::content_type, "application/json");
          res.body() = a.body;
          res.keep_alive(req.keep_alive());
          res.prepare_payload();
          if (auto [wec, wn] = co_await bhttp::async_write(stream, res, nothrow); wec) co_return;
          if (!res.keep_alive()) co_return;
          break;
        }
        case fake_action::kind::hang: {
          asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(24));
          co_await forever.async_wait(nothrow);
          co_return;
        }
        case fake_action::kind::close: co_return;
        case fake_action::kind::garbage: {
          static const std::string junk = "SSH-2.0-OpenSSH_9.2 what is this\r\n\r\n\x01\x02";
          co_await asio::async_write(stream, asio::buffer(junk), nothrow);
          co_return;
        }
        case fake_action::kind::partial: {
          static const std::string head =
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
              "{\"status\":";
          co_await asio::async_write(stream, asio::buffer(head), nothrow);
          asio::steady_timer forever(co_await asio::this_coro::executor, std::chrono::hours(24));
          co_await forever.async_wait(nothrow);
          co_return;
        }
      }
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    if (!tls) {
      beast::tcp_stream stream(std::move(socket));
      co_await serve(stream);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
    if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, nothrow); ec)
      co_return;
    co_await serve(stream);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(nothrow);
      if (ec) co_return;
      {
        std::lock_guard lock(mutex);
        ++accepted;
      }
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }
};

fake_upstream::fake_upstream(handler h, const tls_material* tls) : impl_(std::make_shared<impl>()) {
  impl_->on_request = std::move(h);
  if (tls) {
    impl_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    impl_->tls->use_certificate_chain(asio::buffer(tls->server_cert_pem));
    impl_->tls->use_private_key(asio::buffer(tls->server_key_pem), asio::ssl::context::pem);
  }
  const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([i = impl_] { i->ioc.run(); });
}

fake_upstream::~fake_upstream() {
  impl_->ioc.stop();
  impl_->thread.join();
}

unsigned short fake_upstream::port() const { return impl_->acceptor.local_endpoint().port(); }
std::string fake_upstream::base_url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}
void fake_upstream::set_handler(handler h) {
  std::lock_guard lock(impl_->mutex);
  impl_->on_request = std::move(h);
}
std::vector<fake_request> fake_upstream::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seen;
}
std::size_t fake_upstream::count(std::string_view method, std::string_view prefix) const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& r : impl_->seen)
    if (r.method == method && r.target.rfind(prefix, 0) == 0) ++n;
  return n;
}
std::size_t fake_upstream::connections() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->accepted;
}

}  // namespace jobrelay::testing
