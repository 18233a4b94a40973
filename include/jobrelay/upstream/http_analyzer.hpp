// The default adapter: API.md's "Upstream protocol" (Azure-style long-running
// operations) over the pooled HTTP client.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "jobrelay/upstream/analyzer.hpp"
#include "jobrelay/upstream/http_client.hpp"
#include "jobrelay/upstream/target.hpp"

namespace jobrelay::upstream {

struct http_analyzer_options {
  std::string base_url = "http://127.0.0.1:9000";
  std::string submit_path = "/analyze";
  std::map<std::string, std::string> headers;  // already expanded
  unsigned max_redirects = 5;                  // on polls
  std::chrono::milliseconds max_retry_after{std::chrono::minutes(5)};
};

class http_analyzer final : public analyzer {
 public:
  http_analyzer(http_client& client, http_analyzer_options options);

  boost::asio::awaitable<attempt> submit(std::string body, time_point not_after) override;
  boost::asio::awaitable<attempt> poll(std::string operation_url, time_point not_after) override;
  boost::asio::awaitable<void> cancel(std::string operation_url) override;

 private:
  http_call make_call(std::string method, std::string url, std::string body,
                      time_point not_after = time_point::max()) const;
  attempt read_submit_reply(result<http_reply>& reply) const;
  // nullopt: redirected, and `url` is where to ask next.
  std::optional<attempt> read_poll_reply(result<http_reply>& reply, std::string& url,
                                         unsigned hop) const;

  http_client& client_;
  http_analyzer_options options_;
  std::string submit_url_;
  // Where upstream.headers may go (the base URL's scheme, host and port):
  // they often carry a credential, and an operation URL or redirect may
  // name any host.
  std::optional<detail::origin> headers_origin_;
};

// Resolves an Operation-Location/Location value against the URL it came
// from and checks it is absolute http(s). errc::upstream_protocol otherwise.
result<std::string> resolve_operation_url(std::string_view base, std::string_view reference);

// The usual cases without Boost.URL: a simple_url reference, or one from the
// root ("/operations/x") against a simple_url base, whose path has no dot
// segment and no '%'. nullopt for anything else.
std::optional<std::string> resolve_simple_operation_url(std::string_view base,
                                                        std::string_view reference);

// Boost.URL for every input; the two above must agree with it byte for byte
// (tests/unit/upstream_url_test.cpp compares them).
result<std::string> resolve_operation_url_generic(std::string_view base,
                                                  std::string_view reference);

}  // namespace jobrelay::upstream
