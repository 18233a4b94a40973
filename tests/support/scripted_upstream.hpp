// A scriptable HTTP/1.1 server on 127.0.0.1 for tests that need a real
// upstream over real sockets: the upstream client, the job engine, anything
// that talks to the analyzer.
//
// It listens on an ephemeral port, serves from a thread and io_context of its
// own, records every request it reads, and asks a handler what to do about
// each one: answer normally, or misbehave in one of the ways real upstreams
// do (hang, close, garbage, a truncated or dribbled body).
//
//   using namespace jobrelay::testing;
//   scripted_upstream upstream([](const recorded_request& r) {
//     if (r.target == "/slow") return upstream_action::respond(200, R"({"ok":true})")
//                                         .after(std::chrono::milliseconds(100));
//     if (r.method == "POST") return upstream_action::respond(202, R"({"id":"j1"})")
//                                        .header("Location", "/jobs/j1");
//     return upstream_action::hang();
//   });
//   ... call upstream.url("/analyze") ...
//   ASSERT_TRUE(upstream.wait_for_requests(1));
//   EXPECT_EQ(upstream.requests()[0].header("content-type"), "application/json");
//
// Or script a fixed series of answers, the last one repeating:
//   scripted_upstream upstream(sequence({upstream_action::close(), upstream_action::respond()}));
//
// Threading: the handler runs on the server's thread, one request at a time;
// it must not block (use .after() to delay an answer) and must be safe to
// copy-construct and call from that thread. All public member functions are
// thread-safe. The destructor stops the server promptly, hung connections
// included.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "test_pki.hpp"

namespace jobrelay::testing {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct recorded_request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // path and query, as sent
  header_list headers;  // in order, names as sent
  std::string body;
  std::size_t connection = 0;   // which accepted connection carried it, 1-based
  std::string tls_server_name;  // SNI the client sent (TLS only; empty when none)

  // First header of that name (case-insensitive), empty when absent.
  std::string header(std::string_view name) const;
};

// What the server does about one request. Build one with the static factories
// and adjust with the chainable modifiers.
struct upstream_action {
  enum class kind {
    respond,    // a normal answer
    hang,       // never answer; keep the connection open until the client leaves
    close,      // close the connection without answering
    garbage,    // write `body` (not HTTP) verbatim, then close
    partial,    // send headers announcing `declared_length` bytes, send only `body`, then
                // hang (or close, with .then_close())
    slow_body,  // send headers, then `body` in pieces of `chunk_size` every `chunk_delay`
  };

  kind what = kind::respond;
  unsigned status = 200;
  header_list headers;  // replace same-named defaults (Content-Type, Connection, ...)
  std::string body;
  unsigned version = 11;               // 10 answers HTTP/1.0 (and closes)
  std::chrono::milliseconds delay{0};  // wait this long before acting (without blocking)
  bool close_after = false;  // respond/slow_body: "Connection: close" and close; partial: close
  bool drop_after = false;   // respond: look keep-alive but close anyway (a stale connection)
  std::size_t declared_length = 0;           // partial
  std::size_t chunk_size = 1;                // slow_body
  std::chrono::milliseconds chunk_delay{0};  // slow_body

  // `body` goes out with Content-Type: application/json unless a header says otherwise.
  static upstream_action respond(unsigned status = 200, std::string body = "{}");
  static upstream_action hang();
  static upstream_action close();
  static upstream_action garbage(std::string bytes = "this is not HTTP at all\r\n\r\n");
  static upstream_action partial(std::string body_start, std::size_t declared_length);
  static upstream_action slow_body(std::string body, std::chrono::milliseconds chunk_delay,
                                   std::size_t chunk_size = 1, unsigned status = 200);

  upstream_action& header(std::string name, std::string value);
  upstream_action& after(std::chrono::milliseconds wait);
  upstream_action& closing();     // send Connection: close and close
  upstream_action& dropping();    // answer as keep-alive, then close the connection
  upstream_action& then_close();  // partial: close after the truncated body instead of hanging
  upstream_action& http10();
};

using upstream_handler = std::function<upstream_action(const recorded_request&)>;

// Answers the n-th request with actions[n], then keeps repeating the last one.
upstream_handler sequence(std::vector<upstream_action> actions);

class scripted_upstream {
 public:
  // Plain HTTP. Without a handler every request gets 200 "{}".
  explicit scripted_upstream(upstream_handler handler = {});
  // HTTPS with that certificate and key (see test_pki.hpp).
  scripted_upstream(upstream_handler handler, const tls_identity& identity);
  ~scripted_upstream();
  scripted_upstream(const scripted_upstream&) = delete;
  scripted_upstream& operator=(const scripted_upstream&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:PORT" (https for TLS); `host` replaces 127.0.0.1, e.g. "localhost".
  std::string base_url(std::string_view host = "127.0.0.1") const;
  // base_url() + target, e.g. url("/analyze").
  std::string url(std::string_view target, std::string_view host = "127.0.0.1") const;

  // Applies to requests read from now on.
  void set_handler(upstream_handler handler);

  std::vector<recorded_request> requests() const;
  std::size_t request_count() const;
  std::size_t accepted_connections() const;   // ever
  std::size_t open_connections() const;       // now
  std::size_t peak_open_connections() const;  // most at once

  // Block (up to `timeout`) until that many requests were recorded, or until
  // open connections drop to `n`; false on timeout.
  bool wait_for_requests(std::size_t n,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  bool wait_for_open_connections(std::size_t n,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  // Closes every connection now (like a restart that keeps the port); returns
  // once done.
  void close_all_connections();

  // Stops accepting and drops every connection; idempotent, the destructor calls it.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace jobrelay::testing
