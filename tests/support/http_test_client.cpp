#include "http_test_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace jobrelay::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct http_connection::impl {
  impl(unsigned short port, std::chrono::milliseconds t) : stream(ioc), timeout(t) {
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  // Sync calls with a deadline: run the async op on our private io_context.
  template <class Op>
  boost::system::error_code run(Op op) {
    boost::system::error_code result = asio::error::would_block;
    stream.expires_after(timeout);
    op([&](boost::system::error_code ec, std::size_t) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
  asio::io_context ioc;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::chrono::milliseconds timeout;
};

http_connection::http_connection(unsigned short port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<impl>(port, timeout)) {}
http_connection::~http_connection() = default;

reply http_connection::send(jobrelay::http::request req) {
  if (req[bhttp::field::host].empty()) req.set(bhttp::field::host, "127.0.0.1");
  req.prepare_payload();
  if (auto ec = impl_->run([&](auto h) { bhttp::async_write(impl_->stream, req, h); }); ec)
    throw std::runtime_error("write: " + ec.message());
  reply out;
  bhttp::response_parser<bhttp::string_body, jobrelay::http::field_allocator<char>> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (req.method() == bhttp::verb::head) parser.skip(true);
  if (auto ec = impl_->run([&](auto h) { bhttp::async_read(impl_->stream, impl_->buffer, parser, h); }); ec)
    throw std::runtime_error("read: " + ec.message());
  out.raw = parser.release();
  out.status = out.raw.result_int();
  out.body = out.raw.body();
  return out;
}

std::string http_connection::raw(std::string_view bytes) {
  impl_->run([&](auto h) { asio::async_write(impl_->stream, asio::buffer(bytes.data(), bytes.size()), h); });
  std::string received(static_cast<const char*>(impl_->buffer.data().data()), impl_->buffer.size());
  impl_->buffer.consume(impl_->buffer.size());
  for (;;) {
    char chunk[4096];
    std::size_t got = 0;
    auto ec = impl_->run([&](auto h) {
      impl_->stream.async_read_some(asio::buffer(chunk), [&, h](boost::system::error_code e, std::size_t n) mutable {
        got = n;
        h(e, n);
      });
    });
    received.append(chunk, got);
    if (ec) break;
  }
  return received;
}

bool http_connection::closed_by_peer(std::chrono::milliseconds within) {
  const auto saved = impl_->timeout;
  impl_->timeout = within;
  char byte;
  auto ec = impl_->run([&](auto h) { impl_->stream.async_read_some(asio::buffer(&byte, 1), h); });
  impl_->timeout = saved;
  return ec == asio::error::eof || ec == asio::error::connection_reset;
}

reply http_request(unsigned short port, jobrelay::http::verb method, std::string target,
                   std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  jobrelay::http::request req{method, target, 11};
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  http_connection c(port);
  return c.send(std::move(req));
}

reply http_get(unsigned short port, std::string target,
               std::vector<std::pair<std::string, std::string>> headers) {
  return http_request(port, bhttp::verb::get, std::move(target), {}, std::move(headers));
}

reply http_post(unsigned short port, std::string target, std::string body,
                std::vector<std::pair<std::string, std::string>> headers) {
  return http_request(port, bhttp::verb::post, std::move(target), std::move(body), std::move(headers));
}

std::string raw_exchange(unsigned short port, std::string_view bytes,
                         std::chrono::milliseconds timeout) {
  http_connection c(port, timeout);
  return c.raw(bytes);
}

}  // namespace jobrelay::testing
