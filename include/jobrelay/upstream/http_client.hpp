// An HTTP/1.1 client for upstream calls: keep-alive connections pooled per
// origin (scheme, host, port), bounded by max_connections in total, plain TCP
// or TLS (verified against the system store or a CA file), one deadline for a
// whole call (resolve, connect, TLS, write, read of head and body) and a cap on
// the answer's size. It never throws: failures come back as jobrelay::errc.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jobrelay/error.hpp"

namespace jobrelay::upstream {

struct client_options {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds request_timeout{10000};  // a whole call, body included
  std::size_t max_connections = 64;                   // open connections, all origins
  std::uint64_t max_response_bytes = 8388608;
  bool tls_verify = true;
  std::string tls_ca_file;  // empty: the system store
  // Load the trust store when the client is made (an https upstream is
  // expected: a broken store shows at start) rather than at the first https
  // call. Loading the system store costs ~50 ms and ~1 MB a plain-http
  // deployment never needs.
  bool tls_at_start = false;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_call {
  std::string method = "GET";  // GET, POST, DELETE
  std::string url;             // absolute http:// or https://
  header_list headers;
  std::string body;            // sent with Content-Type: application/json when not empty
  // The call ends (upstream_timeout) by then at the latest, even when
  // request_timeout would allow longer: a job's own deadline.
  std::chrono::steady_clock::time_point not_after = std::chrono::steady_clock::time_point::max();
};

struct http_reply {
  unsigned status = 0;
  std::string body;

  // First header of that name (case-insensitive), empty when absent.
  std::string header(std::string_view name) const;
  // As received; names and values as the parser passed them (a name has no
  // ':', a value no line break).
  void add_header(std::string_view name, std::string_view value);

 private:
  // "name:value\n" for each header, in one string: one allocation per answer
  // instead of two per header, and an answer is asked for two or three.
  std::string fields_;
};

class http_client {
 public:
  http_client(boost::asio::any_io_executor executor, client_options options);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  // Errors: upstream_bad_url, upstream_resolve_failed, upstream_connect_failed,
  // upstream_tls_failed, upstream_timeout, upstream_closed,
  // upstream_bad_response, upstream_response_too_large, shutting_down; and
  // boost::asio::error::operation_aborted when the caller cancels the call
  // (its connection is then closed and its slot freed).
  // Many coroutines may call at once; each must run on a strand (or a
  // single-threaded io_context), which the call's timers share.
  boost::asio::awaitable<result<http_reply>> send(http_call call);

  // Closes idle pooled connections, fails calls waiting for a slot and ends
  // the calls in flight (upstream_closed); later calls fail (shutting_down).
  void shutdown();

  // Open connections (busy + idle); for /stats and tests.
  std::size_t open_connections() const;

 public:
  struct impl;  // public only for the client's own helpers

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace jobrelay::upstream
