// The upstream analyzer as the job engine sees it: submit a request, poll an
// operation, cancel it. Each call is one attempt; what to do with a transient
// failure (retry, back off, give up) is the engine's business.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "jobrelay/upstream/status_document.hpp"

namespace jobrelay::upstream {

struct attempt {
  enum class outcome {
    accepted,    // submit: the upstream took the job; operation_url is set
    status,      // a status document (final answer to a submit, or a poll)
    no_news,     // a poll that carried nothing (e.g. 202 with no body)
    transient,   // connect error, timeout, 408, 429, 5xx: worth retrying
    rejected,    // submit answered 4xx: upstream_json holds status and body
    protocol,    // anything else: not the protocol of API.md
  };
  outcome kind = outcome::protocol;
  std::string operation_url;
  status_document document;
  std::optional<std::chrono::milliseconds> retry_after;  // the upstream's advice
  std::string detail;         // for logs and error.message
  std::string upstream_json;  // rejected: {"status": <code>, "body": ...}
};

class analyzer {
 public:
  virtual ~analyzer() = default;
  // A call still out at `not_after` ends as transient (a timeout), on top of
  // the client's own per-call timeout.
  using time_point = std::chrono::steady_clock::time_point;
  virtual boost::asio::awaitable<attempt> submit(std::string body, time_point not_after) = 0;
  virtual boost::asio::awaitable<attempt> poll(std::string operation_url, time_point not_after) = 0;
  // Best effort: the outcome is logged, not acted on.
  virtual boost::asio::awaitable<void> cancel(std::string operation_url) = 0;
};

}  // namespace jobrelay::upstream
