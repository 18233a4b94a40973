// The HTTP/1.1 server: an acceptor and one coroutine per connection, on the
// connection's own strand or, where one thread runs each io_context, on the
// context it was handed to (server_options::connection_contexts). It owns
// the protocol rules that hold for every route: keep-alive, the deadline for
// a whole request head (slowloris), the idle deadline, the body limit (413),
// 411 for a POST without a length, 400 and close for anything malformed
// (including ambiguous framing), max_connections, and a 500 problem for a
// handler that throws.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "jobrelay/error.hpp"
#include "jobrelay/http/router.hpp"

namespace boost::asio {
class io_context;
}

namespace jobrelay::http {


// One answered request, for the access log.
struct exchange_record {
  const request_context* ctx;  // null for answers made before routing (400, 411, 413, 431)
  std::string_view request_id;
  boost::asio::ip::address peer;
  unsigned status;
  std::uint64_t body_bytes;  // body bytes written; a stream's: the data of all its chunks
  std::chrono::steady_clock::duration elapsed;  // from the request's first byte to the last one written
  bool written;  // false when the client went away before the answer was written
};

struct server_options {
  std::string listen = "0.0.0.0:8080";  // host:port or [v6]:port
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};
  std::size_t max_connections = 10000;
  std::uint64_t max_body_bytes = 1048576;
  // Exactly one thread runs the server's io_context: connections on it need
  // no strands.
  bool one_thread = false;
  // Applied to the answers the server makes itself once a request head is
  // parsed (411, 413, bad framing, the last-resort 500), which never pass
  // through `entry`: so CORS headers, say, reach them too.
  std::function<void(const request& head, response& res)> decorate_own = {};
  // Called once per answered request, after its last byte; empty: nothing.
  std::function<void(const exchange_record&)> on_complete = {};
  // Called as soon as `entry` has answered a request (a 500 for one that
  // threw included), before the answer is written: the request as routed,
  // the answer, how long `entry` took. Empty: nothing. A hook rather than a
  // layer around `entry`, which would cost a coroutine frame per request.
  std::function<void(const request_context&, const response&, std::chrono::steady_clock::duration)>
      on_answer = {};
  // When not empty, accepted connections are handed to these io_contexts in
  // turn (the server's own may be one of them), and each must be run by one
  // thread only: its connections then need no strands, and no two I/O threads
  // share a scheduler's lock. The acceptor stays on the server's io_context.
  std::vector<boost::asio::io_context*> connection_contexts = {};
  // Bytes of answers the socket did not take at once, over all connections:
  // they wait in memory for slow readers. A connection whose answer would
  // pass this is closed instead (its answer cut short), unless nothing else
  // waits. 0: no bound.
  std::uint64_t max_pending_write_bytes = 0;
};

class server {
 public:
  // `entry` answers every well-formed request (a router, or middleware in
  // front of one); it must outlive the server.
  server(boost::asio::io_context& ioc, server_options options, handler entry);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds and listens; the error names what failed. Call once, before start().
  result<void> listen();
  void start();           // starts accepting
  void stop_accepting();  // closes the listener; open connections go on

  // Once draining, every response carries Connection: close.
  void set_draining(bool draining);
  // Closes the connections waiting for a next request, now and from now on;
  // a request in flight is answered first (with Connection: close).
  void close_idle_connections();

  std::string local_address() const;  // "127.0.0.1:8080" / "[::1]:8080"
  unsigned short local_port() const;
  std::size_t open_connections() const;
  // Connections refused (503) because server.max_connections were open.
  std::uint64_t refused_connections() const;
  // Bytes of answers waiting for slow readers now (max_pending_write_bytes).
  std::uint64_t pending_write_bytes() const;
  // Connections closed because their answer would have passed that bound.
  std::uint64_t slow_readers_closed() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace jobrelay::http
