#include "jobrelay/http/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <mutex>
#include <unordered_set>

#include "connection_deadline.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/http/request_id.hpp"
#include "jobrelay/http/router.hpp"
#include "jobrelay/http/wire.hpp"
#include "jobrelay/listen_address.hpp"
#include "jobrelay/log.hpp"
#include "jobrelay/log_throttle.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// The request head, and in a chunked body each chunk-size line (with its
// extensions) and the trailer section: Beast bounds the head only.
constexpr std::size_t max_head_bytes = 16 * 1024;
using request_parser = bhttp::request_parser<bhttp::string_body, field_allocator<char>>;

// A connection's socket with the deadline of its pending operation.
struct connection_io {
  tcp::socket& socket;
  connection_deadline& deadline;
};

struct server::impl : std::enable_shared_from_this<impl> {
  impl(asio::io_context& ioc, server_options o, handler h)
      : ioc(ioc), options(std::move(o)), entry(std::move(h)), acceptor(ioc) {}

  asio::io_context& ioc;
  server_options options;
  handler entry;
  tcp::acceptor acceptor;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::uint64_t> refused{0};  // connections refused at max_connections
  std::atomic<std::uint64_t> pending_write_bytes{0};  // see max_pending_write_bytes
  std::atomic<std::uint64_t> slow_readers_closed{0};  // for passing it
  std::mutex slow_reader_log_mutex;                   // any connection's thread
  log_throttle slow_reader_warnings{std::chrono::seconds(10)};
  log_throttle refusal_warnings{std::chrono::seconds(10)};  // the accept loop's alone
  std::atomic<bool> draining{false};
  std::size_t next_context = 0;  // accept loop only

  // Where the next connection runs. A context run by one thread runs every
  // handler in turn: a strand would only add a lock and executor copies to
  // each operation.
  asio::any_io_executor next_connection_executor() {
    const auto& contexts = options.connection_contexts;
    if (!contexts.empty()) return contexts[next_context++ % contexts.size()]->get_executor();
    if (options.one_thread) return ioc.get_executor();
    return asio::make_strand(ioc);
  }

  // Each open connection, so a drain can close the ones waiting for a next
  // request. Touched once per connection, never per request.
  struct session_slot {
    asio::any_io_executor executor;  // the connection's strand or context
    tcp::socket* socket = nullptr;   // reset before the socket goes; on `executor` only
    bool idle = false;               // waiting for a request's first byte; on `executor` only
    std::string head;                // the serialized head of the answer being written
    std::string request_id;          // of the request being served (storage reused)
  };
  std::mutex sessions_mutex;
  std::unordered_set<std::shared_ptr<session_slot>> sessions;
  std::atomic<bool> closing_idle{false};
  void close_idle();

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(tcp::socket socket);
  // Answers the connection's requests until it is to close. One coroutine for
  // all of them, not one per request: its frame, larger than Asio recycles,
  // would cost an allocation per request (bench/README.md).
  asio::awaitable<void> serve(connection_io io, beast::flat_buffer& buffer,
                              const asio::ip::address& peer, session_slot& slot);
  asio::awaitable<bool> write_stream(connection_io io, beast::flat_buffer& buffer, response& res,
                                     unsigned version, bool keep_alive, std::string_view request_id,
                                     const stream_producer& produce, std::uint64_t& body_bytes,
                                     bool head_only);
  // The access-log hook, after the last byte of an answer was written (or not).
  void report(const request_context* ctx, std::string_view request_id,
              const asio::ip::address& peer, unsigned status, std::uint64_t body_bytes,
              std::chrono::steady_clock::time_point started, bool written) const {
    if (!options.on_complete) return;
    options.on_complete(exchange_record{ctx, request_id, peer, status, body_bytes,
                                        std::chrono::steady_clock::now() - started, written});
  }
  void refuse(tcp::socket& socket);
};

namespace {

// Beast's keep_alive() reads the Connection field's tokens through a tree
// lookup; most messages have no Connection field, and then the version decides.
template <bool isRequest>
bool keeps_alive(const bhttp::message<isRequest, bhttp::string_body, fields>& m) {
  if (first_value(m, field::connection).empty()) return m.version() >= 11;
  return m.keep_alive();
}

// RFC 9110 6.4.1, 8.6: 1xx, 204 and 304 answers have no body and no
// Content-Length.
bool has_no_body(unsigned code) { return code < 200 || code == 204 || code == 304; }

// The head of an answer, serialized by hand into a buffer the connection
// keeps: Beast's serializer walks a variant of buffer sequences on every
// write, a measured share of a small answer's CPU (bench/README.md). The two
// fields every answer gets, X-Request-Id and Content-Length, are written here
// rather than set in the message, which would allocate a node for each.
void serialize_head(std::string& out, const response& res, bool keep_alive,
                    std::string_view request_id) {
  out.clear();
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  const unsigned code = res.result_int();
  out += static_cast<char>('0' + code / 100);
  out += static_cast<char>('0' + code / 10 % 10);
  out += static_cast<char>('0' + code % 10);
  out += ' ';
  const auto reason = res.reason();
  out.append(reason.data(), reason.size());
  out += "\r\n";
  append_fields(out, res);
  // What res.keep_alive() would have set: each version's default goes unsaid.
  if (res.version() == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  if (res.version() != 10 && !keep_alive) out += "Connection: close\r\n";
  out += "X-Request-Id: ";
  out += request_id;
  if (!has_no_body(code)) {
    out += "\r\nContent-Length: ";
    char digits[24];
    const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, res.body().size());
    out.append(digits, end);
  }
  out += "\r\n\r\n";
}

// The bytes of an answer not yet written, or that writing it failed.
struct unwritten {
  std::array<asio::const_buffer, 2> rest;
  bool failed = false;
  bool empty() const { return rest[0].size() + rest[1].size() == 0; }
};

// Frames an answer into `head` and writes what the socket takes at once.
// An answer nearly always fits the socket's send buffer: written directly
// (the socket is non-blocking) it is done without an asynchronous write,
// whose completion Asio posts back through the scheduler even when the bytes
// left at once (bench/README.md). Only what did not fit is left to wait for.
unwritten write_now(tcp::socket& socket, response& res, unsigned version, bool keep_alive,
                    std::string_view request_id, std::string& head, bool head_only = false) {
  res.version(version);
  // Framing and the connection's fate are ours alone: a handler's stray
  // length, coding or Connection would contradict them. One walk over the
  // fields finds there are none (the usual case) without three lookups.
  if (has_any(res, {field::content_length, field::transfer_encoding, field::connection})) {
    res.erase(field::content_length);
    res.erase(field::transfer_encoding);
    res.erase(field::connection);
  }
  if (has_no_body(res.result_int())) res.body().clear();
  serialize_head(head, res, keep_alive, request_id);
  // A HEAD's answer says the length GET's body would have, and sends none.
  const std::array<asio::const_buffer, 2> whole{
      asio::buffer(head), head_only ? asio::const_buffer() : asio::buffer(res.body())};
  boost::system::error_code ec;
  const std::size_t sent = socket.write_some(whole, ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return {{}, true};
  return {{whole[0] + sent, whole[1] + (sent > head.size() ? sent - head.size() : 0)}, false};
}

// Writes `buffers` whole within `limit`, or the connection is closed;
// reports whether they were written. Every asynchronous write of the server
// goes through here, so none leaves its deadline standing after it.
template <class Buffers>
asio::awaitable<bool> write_within(connection_io io, Buffers buffers,
                                   std::chrono::milliseconds limit) {
  io.deadline.expires_after(limit);
  auto [ec, n] = co_await asio::async_write(io.socket, buffers, nothrow);
  io.deadline.clear();
  co_return !ec;
}

// Writes an answer; reports whether it was written whole.
asio::awaitable<bool> write_response(connection_io io, response& res, unsigned version,
                                     bool keep_alive, std::chrono::milliseconds timeout,
                                     std::string_view request_id, std::string& head) {
  const auto left = write_now(io.socket, res, version, keep_alive, request_id, head);
  if (left.failed) co_return false;
  if (left.empty()) co_return true;
  co_return co_await write_within(io, left.rest, timeout);
}

// Feeds `parser` what `buffer` holds. True when that settles it: the head
// (with `whole`: the whole message) is in, or `ec` says what is wrong.
bool parse_buffered(beast::flat_buffer& buffer, request_parser& parser, bool whole,
                    beast::error_code& ec) {
  parser.eager(whole);
  if (buffer.size() > 0) {
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec == bhttp::error::need_more) ec = {};
    if (ec) return true;
  }
  return whole ? parser.is_done() : parser.is_header_done();
}

// Feeds `parser` from `buffer`, reading from the socket only while it needs
// more, until the head (with `whole`: the whole message) is in or `until`
// passed. Beast's async_read_header does the same, but completes through a
// posted handler even when the head was in the buffer already: on a
// keep-alive connection, nearly always. (So nearly always, the caller's
// parse_buffered settles it first, without this coroutine.)
asio::awaitable<beast::error_code> read_request(connection_io io, beast::flat_buffer& buffer,
                                                request_parser& parser, bool whole,
                                                connection_deadline::clock::time_point until) {
  for (;;) {
    if (beast::error_code ec; parse_buffered(buffer, parser, whole, ec)) co_return ec;
    // What the parser leaves in the buffer is a line it has not seen the end
    // of (it takes body bytes as they come): a chunk-size line or a trailer
    // field that never ends would otherwise grow the buffer until the
    // deadline, a megabyte per millisecond on loopback.
    if (buffer.size() >= max_head_bytes) co_return bhttp::error::header_limit;
    io.deadline.expires_at(until);
    auto [ec, n] = co_await io.socket.async_read_some(
        buffer.prepare(beast::read_size(buffer, 65536)), nothrow);
    io.deadline.clear();
    if (io.deadline.expired()) co_return beast::error::timeout;
    if (ec == asio::error::eof) {
      if (!parser.got_some()) co_return bhttp::error::end_of_stream;
      beast::error_code at_eof;
      parser.put_eof(at_eof);  // a request cut short: partial_message
      co_return at_eof ? at_eof : beast::error_code(bhttp::error::partial_message);
    }
    if (ec) co_return ec;
    buffer.commit(n);
  }
}

// A slow or vanished client (or one a drain let go): it gets no answer and
// no more of our time.
bool client_gone(const beast::error_code& ec) {
  return ec == beast::error::timeout || ec == bhttp::error::end_of_stream ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted;
}

response bad_request(std::string_view detail) {
  return problem_response(status::bad_request, "malformed-request", "Bad Request", detail);
}

response body_too_large(std::uint64_t limit) {
  return problem_response(status::payload_too_large, "body-too-large", "Content Too Large",
                          "the body exceeds " + std::to_string(limit) + " bytes");
}

}  // namespace

void server::impl::refuse(tcp::socket& socket) {
  ++refused;
  if (std::string note; refusal_warnings.allow(std::chrono::steady_clock::now(), note))
    spdlog::warn("refusing connections: {} open (server.max_connections){}", connections.load(),
                 note);
  // Best effort, never blocking the accept loop: a fresh socket's send buffer
  // always takes these few bytes. Every answer carries an X-Request-Id.
  static const std::string body =
      R"({"type":"urn:jobrelay:problem:too-many-connections","title":"Service Unavailable",)"
      R"("status":503,"detail":"too many open connections; retry shortly"})";
  static const std::string head =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
      "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nX-Request-Id: ";
  std::string reply = head;
  reply += new_request_id();
  reply += "\r\n\r\n";
  reply += body;
  boost::system::error_code ec;
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(reply), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

asio::awaitable<void> server::impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    const auto executor = next_connection_executor();
    auto [ec, accepted] = co_await acceptor.async_accept(executor, nothrow);
    tcp::socket socket(std::move(accepted));  // keeps `executor` as its executor
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: back off a little instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
      co_await pause.async_wait(nothrow);
      continue;
    }
    if (connections.load() >= options.max_connections) {
      refuse(socket);
      continue;
    }
    ++connections;
    auto ex = socket.get_executor();
    asio::co_spawn(ex, session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> server::impl::session(tcp::socket socket) {
  auto self = shared_from_this();
  boost::system::error_code ec;
  const auto peer = socket.remote_endpoint(ec).address();
  const auto deadline = std::make_shared<connection_deadline>(socket);
  // For the direct writes in write_response, which must never block the thread.
  if (socket.non_blocking(true, ec); ec) {
    --connections;
    co_return;
  }
  beast::flat_buffer buffer;
  auto slot =
      std::make_shared<session_slot>(session_slot{socket.get_executor(), &socket, false, {}, {}});
  {
    std::lock_guard lock(sessions_mutex);
    sessions.insert(slot);
  }
  try {
    co_await serve({socket, *deadline}, buffer, peer, *slot);
  } catch (const std::exception& e) {
    spdlog::debug("connection from {} ended: {}", peer.to_string(), e.what());
  }
  slot->socket = nullptr;
  deadline->detach();
  {
    std::lock_guard lock(sessions_mutex);
    sessions.erase(slot);
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
  --connections;
}

void server::impl::close_idle() {
  closing_idle = true;  // first: a connection turning idle after this closes itself
  std::lock_guard lock(sessions_mutex);
  for (const auto& slot : sessions)
    asio::post(slot->executor, [weak = std::weak_ptr<session_slot>(slot)] {
      const auto s = weak.lock();
      if (!s || !s->idle || !s->socket) return;
      boost::system::error_code ignored;
      s->socket->cancel(ignored);  // its idle read ends; the connection closes
    });
}

asio::awaitable<void> server::impl::serve(connection_io io, beast::flat_buffer& buffer,
                                          const asio::ip::address& peer, session_slot& slot) {
  for (;;) {
    // Between requests the idle deadline applies; once a request's first byte
    // is in, the whole head must arrive within header_timeout.
    if (buffer.size() == 0) {
      if (closing_idle) co_return;
      io.deadline.expires_after(options.idle_timeout);
      slot.idle = true;
      auto [ec, n] = co_await io.socket.async_read_some(buffer.prepare(4096), nothrow);
      slot.idle = false;
      io.deadline.clear();
      if (ec) co_return;  // idle timeout, close, reset or a drain: nothing to answer
      buffer.commit(n);
    }
    const auto started = std::chrono::steady_clock::now();

    const auto own = [this](const request& for_request, response r) {
      if (options.decorate_own) options.decorate_own(for_request, r);
      return r;
    };
    request_parser parser;
    parser.header_limit(max_head_bytes);
    parser.body_limit(options.max_body_bytes);
    const auto head_due = started + options.header_timeout;
    beast::error_code head_ec;
    if (!parse_buffered(buffer, parser, false, head_ec)) {
      const auto awaited = co_await read_request(io, buffer, parser, false, head_due);
      head_ec = awaited;
    }
    if (const auto ec = head_ec; ec) {
      if (client_gone(ec)) co_return;
      // Beast checks a declared Content-Length against the body limit as soon
      // as the head is parsed, so an oversized body is refused unread.
      response res = ec == bhttp::error::header_limit
                         ? problem_response(status::request_header_fields_too_large,
                                            "headers-too-large", "Request Header Fields Too Large",
                                            "the request head exceeds 16 KiB")
                     : ec == bhttp::error::body_limit
                         ? own(parser.get(), body_too_large(options.max_body_bytes))
                         : bad_request("malformed HTTP request: " + ec.message());
      const auto id = new_request_id();
      const bool written =
          co_await write_response(io, res, 11, false, options.header_timeout, id, slot.head);
      report(nullptr, id, peer, res.result_int(), res.body().size(), started, written);
      co_return;
    }

    const auto& head = parser.get();
    std::string& request_id = slot.request_id;
    if (const auto given = head["X-Request-Id"]; is_valid_request_id({given.data(), given.size()}))
      request_id.assign(given.data(), given.size());
    else
      new_request_id(request_id);
    // The answers made here before routing, with their access-log line.
    const auto refuse_early = [&](response& res) -> asio::awaitable<void> {
      const bool written = co_await write_response(io, res, head.version(), false,
                                                   options.header_timeout, request_id, slot.head);
      report(nullptr, request_id, peer, res.result_int(), res.body().size(), started, written);
    };
    const unsigned version = head.version();
    // RFC 9112 3.2: an HTTP/1.1 request without Host, or any with two.
    if (const auto hosts = head.count(field::host); hosts > 1 || (hosts == 0 && version >= 11)) {
      auto res = own(head, bad_request("an HTTP/1.1 request needs exactly one Host header"));
      co_await refuse_early(res);
      co_return;
    }
    // RFC 9112 6.3: a Transfer-Encoding whose final coding is not chunked
    // cannot be framed; guessing is how requests get smuggled.
    if (const auto codings = head.count(field::transfer_encoding); codings > 0) {
      if (!parser.chunked()) {
        auto res = own(head, bad_request("Transfer-Encoding must end with chunked"));
        co_await refuse_early(res);
        co_return;
      }
      // RFC 9112 6.1: a coding the server does not decode (gzip, chunked)
      // is 501, not a body taken as if it were plain.
      if (codings > 1 || !iequals_ascii(trim_ows(head[field::transfer_encoding]), "chunked")) {
        auto res = own(
            head, problem_response(status::not_implemented, "unsupported-coding", "Not Implemented",
                                   "the only transfer coding supported is chunked"));
        co_await refuse_early(res);
        co_return;
      }
    }
    const bool has_body_framing = parser.content_length().has_value() || parser.chunked();
    const bool wants_body =
        head.method() == verb::post || head.method() == verb::put || head.method() == verb::patch;
    if (wants_body && !has_body_framing) {
      auto res =
          own(head, problem_response(status::length_required, "length-required", "Length Required",
                                     "a request body needs Content-Length"));
      co_await refuse_early(res);
      co_return;
    }
    if (!parser.is_done()) {
      // RFC 9110 10.1.1: an HTTP/1.0 request's expectation is ignored.
      if (version >= 11 && head[field::expect] == "100-continue") {
        static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
        const bool sent = co_await write_within(io, asio::buffer(go_on), options.header_timeout);
        if (!sent) co_return;
      }
      const auto body_due = connection_deadline::clock::now() + options.header_timeout;
      beast::error_code body_ec;
      if (!parse_buffered(buffer, parser, true, body_ec)) {
        const auto awaited = co_await read_request(io, buffer, parser, true, body_due);
        body_ec = awaited;
      }
      if (const auto ec = body_ec; ec) {
        if (client_gone(ec) || ec == bhttp::error::partial_message) co_return;
        response res =
            own(head, ec == bhttp::error::body_limit ? body_too_large(options.max_body_bytes)
                      : ec == bhttp::error::header_limit
                          ? bad_request("malformed HTTP body: a chunk-size line or the trailer "
                                        "exceeds 16 KiB")
                          : bad_request("malformed HTTP body: " + ec.message()));
        co_await refuse_early(res);
        co_return;
      }
    }

    request req = parser.release();
    const std::string_view target(req.target().data(), req.target().size());
    const auto qmark = target.find('?');
    request_context ctx{req,
                        peer,
                        target.substr(0, qmark),
                        qmark == target.npos ? std::string_view{} : target.substr(qmark + 1),
                        {},
                        {},
                        request_id,
                        {}};
    // Nothing is pipelined behind this request: the buffer can go while it is held.
    ctx.release_read_buffer = [&buffer] {
      if (buffer.size() == 0) buffer.shrink_to_fit();
    };
    response res;
    if (ctx.path.empty() || ctx.path.front() != '/') {
      res = own(req, bad_request("the request target must be an absolute path"));
    } else {
      const auto handler_started = std::chrono::steady_clock::now();
      try {
        res = co_await entry(ctx);
      } catch (const std::exception& e) {
        const auto method = to_string(req.method());
        log::write(log::level::error, "a handler threw; answering 500",
                   {{"request_id", request_id},
                    {"method", std::string_view(method.data(), method.size())},
                    {"path", ctx.path},
                    {"error", std::string_view(e.what())}});
        res = own(req, problem_response(status::internal_server_error, "internal-error",
                                        "Internal Server Error",
                                        "the server failed to handle the request"));
      }
      if (options.on_answer)
        options.on_answer(ctx, res, std::chrono::steady_clock::now() - handler_started);
    }
    const bool keep_alive = keeps_alive(req) && keeps_alive(res) && !draining.load();
    const unsigned status_code = res.result_int();
    const bool head_only = req.method() == verb::head;
    std::uint64_t body_bytes = head_only ? 0 : res.body().size();
    bool written = false;
    if (ctx.stream && res.result() == status::ok) {
      body_bytes = 0;
      written = co_await write_stream(io, buffer, res, version, keep_alive, request_id, ctx.stream,
                                      body_bytes, head_only);
    } else {
      // Not write_response: the common case, written at once, then needs no coroutine.
      const auto left =
          write_now(io.socket, res, version, keep_alive, request_id, slot.head, head_only);
      written = !left.failed && left.empty();
      if (!written && !left.failed) {
        // A slow reader: what the socket did not take waits in memory.
        const std::uint64_t waiting = left.rest[0].size() + left.rest[1].size();
        const auto before = pending_write_bytes.fetch_add(waiting);
        // One answer may always wait, however big: a result larger than the
        // bound is still served to a client that reads it.
        if (options.max_pending_write_bytes != 0 && before != 0 &&
            before + waiting > options.max_pending_write_bytes) {
          pending_write_bytes.fetch_sub(waiting);
          ++slow_readers_closed;
          std::string note;
          bool log_now;
          {
            std::lock_guard lock(slow_reader_log_mutex);
            log_now = slow_reader_warnings.allow(std::chrono::steady_clock::now(), note);
          }
          if (log_now)
            spdlog::warn(
                "closing a connection that reads slowly: {} bytes already wait for "
                "slow readers (server.max_pending_write_bytes){}",
                before, note);
          report(&ctx, request_id, peer, status_code, body_bytes, started, false);
          co_return;
        }
        written = co_await write_within(io, left.rest, options.idle_timeout);
        pending_write_bytes.fetch_sub(waiting);
      }
    }
    report(&ctx, request_id, peer, status_code, body_bytes, started, written);
    if (!written || !keep_alive) co_return;
  }
}

namespace {

// Chunks of a streamed body, each bounded by the write deadline: a client
// that stops reading is dropped instead of queueing data for it.
class chunk_sink final : public stream_sink {
 public:
  chunk_sink(connection_io io, std::chrono::milliseconds limit, std::uint64_t& written)
      : io_(io), limit_(limit), written_(written) {}
  asio::awaitable<bool> write(std::string_view data) override {
    if (failed_ || data.empty()) co_return !failed_;
    const auto chunk = bhttp::make_chunk(asio::buffer(data.data(), data.size()));
    const bool sent = co_await write_within(io_, chunk, limit_);
    failed_ = !sent;
    if (!failed_) written_ += data.size();
    co_return !failed_;
  }
  bool failed() const { return failed_; }

 private:
  connection_io io_;
  std::chrono::milliseconds limit_;  // for each chunk
  std::uint64_t& written_;  // body bytes, for the access log
  bool failed_ = false;
};

}  // namespace

asio::awaitable<bool> server::impl::write_stream(connection_io io, beast::flat_buffer& buffer,
                                                 response& res, unsigned version, bool keep_alive,
                                                 std::string_view request_id,
                                                 const stream_producer& produce,
                                                 std::uint64_t& body_bytes, bool head_only) {
  const bool buffer_is_empty = buffer.size() == 0;
  if (buffer_is_empty) buffer.shrink_to_fit();  // a stream holds the connection for long
  bhttp::message<false, bhttp::empty_body, fields> head{std::move(res.base())};
  head.version(version);
  head.keep_alive(keep_alive);
  head.chunked(true);
  head.set("X-Request-Id", request_id);
  bhttp::response_serializer<bhttp::empty_body, fields> serializer(head);
  io.deadline.expires_after(options.idle_timeout);
  if (auto [ec, n] = co_await bhttp::async_write_header(io.socket, serializer, nothrow); ec)
    co_return false;
  io.deadline.clear();
  if (head_only) co_return true;  // the stream's head, never its events
  chunk_sink sink(io, options.idle_timeout, body_bytes);
  co_await produce(sink);
  if (sink.failed()) co_return false;
  const auto last = bhttp::make_chunk_last();
  const bool ended = co_await write_within(io, last, options.idle_timeout);
  co_return ended;
}

server::server(asio::io_context& ioc, server_options options, handler entry)
    : impl_(std::make_shared<impl>(ioc, std::move(options), std::move(entry))) {}

server::~server() { stop_accepting(); }

result<void> server::listen() {
  const auto where = parse_listen_address(impl_->options.listen);
  if (!where) return boost::system::errc::make_error_code(boost::system::errc::invalid_argument);
  const tcp::endpoint endpoint(where->address, where->port);
  boost::system::error_code ec;
  auto& a = impl_->acceptor;
  if (a.open(endpoint.protocol(), ec); ec) return ec;
  a.set_option(asio::socket_base::reuse_address(true), ec);
  if (a.bind(endpoint, ec); ec) return ec;
  if (a.listen(asio::socket_base::max_listen_connections, ec); ec) return ec;
  return {};
}

void server::start() {
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), asio::detached);
}

void server::stop_accepting() {
  // On the acceptor's executor: the accept loop may be running on another thread.
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
}

void server::set_draining(bool draining) { impl_->draining = draining; }

void server::close_idle_connections() { impl_->close_idle(); }

std::string server::local_address() const {
  boost::system::error_code ec;
  const auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return {};
  const auto host = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(ep.port());
}

unsigned short server::local_port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

std::size_t server::open_connections() const { return impl_->connections.load(); }

std::uint64_t server::refused_connections() const {
  return impl_->refused.load();
}

std::uint64_t server::pending_write_bytes() const {
  return impl_->pending_write_bytes.load();
}

std::uint64_t server::slow_readers_closed() const {
  return impl_->slow_readers_closed.load();
}

}  // namespace jobrelay::http
