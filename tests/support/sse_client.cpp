#include "sse_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <stdexcept>

namespace jobrelay::testing {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct sse_client::impl {
  asio::io_context ioc;
  tcp::socket stream{ioc};
  // A timed-out read is canceled, not fatal: the socket stays usable, so a
  // test can wait for "nothing within 300 ms" and then for the next event.
  template <class Op>
  boost::system::error_code run(std::chrono::milliseconds timeout, Op op) {
    boost::system::error_code result = asio::error::would_block;
    op([&](boost::system::error_code ec, std::size_t) { result = ec; });
    ioc.restart();
    ioc.run_for(timeout);
    if (result == asio::error::would_block) {
      stream.cancel();
      ioc.restart();
      ioc.run();
    }
    return result;
  }
};

sse_client::sse_client(unsigned short port, std::string target,
                       std::vector<std::pair<std::string, std::string>> headers,
                       int receive_buffer_bytes)
    : impl_(std::make_unique<impl>()) {
  auto& socket = impl_->stream;
  socket.open(tcp::v4());
  if (receive_buffer_bytes > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer_bytes));
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
  for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
  request += "\r\n";
  if (auto ec = impl_->run(std::chrono::seconds(5), [&](auto h) { asio::async_write(impl_->stream, asio::buffer(request), h); }); ec)
    throw std::runtime_error("sse write: " + ec.message());
  while (raw_.find("\r\n\r\n") == std::string::npos)
    if (!fill(std::chrono::seconds(10))) throw std::runtime_error("sse: no response head");
  const auto head_end = raw_.find("\r\n\r\n");
  const std::string head = raw_.substr(0, head_end);
  raw_.erase(0, head_end + 4);
  status_ = static_cast<unsigned>(std::stoi(head.substr(9, 3)));
  for (std::size_t pos = head.find("\r\n"); pos != std::string::npos;) {
    const auto end = head.find("\r\n", pos + 2);
    const auto line = head.substr(pos + 2, end == std::string::npos ? std::string::npos : end - pos - 2);
    if (const auto colon = line.find(':'); colon != std::string::npos)
      headers_.emplace_back(line.substr(0, colon), line.substr(line.find_first_not_of(' ', colon + 1)));
    pos = end;
  }
  chunked_ = boost::beast::iequals(header("Transfer-Encoding"), "chunked");
  if (!chunked_) ended_ = true;  // no streamed body (204, 404, ...)
  decode_chunks();
}

sse_client::~sse_client() = default;

std::string sse_client::header(std::string_view name) const {
  for (const auto& [k, v] : headers_)
    if (boost::beast::iequals(k, name)) return v;
  return {};
}

bool sse_client::fill(std::chrono::milliseconds timeout) {
  char chunk[16384];
  std::size_t got = 0;
  auto ec = impl_->run(timeout, [&](auto h) {
    impl_->stream.async_read_some(asio::buffer(chunk), [&, h](boost::system::error_code e, std::size_t n) mutable {
      got = n;
      h(e, n);
    });
  });
  raw_.append(chunk, got);
  if (ec == asio::error::eof || ec == asio::error::connection_reset) closed_ = true;
  return !ec;
}

void sse_client::decode_chunks() {
  while (chunked_ && !ended_) {
    const auto line_end = raw_.find("\r\n");
    if (line_end == std::string::npos) return;
    const std::size_t size = std::stoul(raw_.substr(0, line_end), nullptr, 16);
    if (size == 0) {
      ended_ = true;
      return;
    }
    if (raw_.size() < line_end + 2 + size + 2) return;
    body_ += raw_.substr(line_end + 2, size);
    raw_.erase(0, line_end + 2 + size + 2);
  }
}

std::optional<sse_event> sse_client::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Parse complete blocks (separated by a blank line).
    for (std::size_t end; (end = body_.find("\n\n")) != std::string::npos;) {
      const std::string block = body_.substr(0, end);
      body_.erase(0, end + 2);
      sse_event e;
      bool has_data = false;
      for (std::size_t pos = 0; pos <= block.size();) {
        auto nl = block.find('\n', pos);
        if (nl == std::string::npos) nl = block.size();
        const auto line = block.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty()) continue;
        if (line[0] == ':') { ++comments_; continue; }
        const auto colon = line.find(':');
        const auto field = line.substr(0, colon);
        auto value = colon == std::string::npos ? std::string() : line.substr(colon + 1);
        if (!value.empty() && value[0] == ' ') value.erase(0, 1);
        if (field == "data") { e.data += (has_data ? "\n" : "") + value; has_data = true; }
        else if (field == "id") e.id = value;
        else if (field == "retry") retry_ms_ = std::stoi(value);
      }
      if (has_data) return e;
    }
    if (ended_ || closed_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !fill(left)) {
      decode_chunks();
      if (body_.find("\n\n") == std::string::npos) return std::nullopt;
      continue;
    }
    decode_chunks();
  }
}

}  // namespace jobrelay::testing
