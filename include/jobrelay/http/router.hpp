// The route table: {method, path pattern, handler}. Handlers are coroutines
// that take the parsed request and return a response; they never see a
// socket. Unknown paths get 404, known paths with another method 405 + Allow.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "jobrelay/http/message.hpp"

namespace jobrelay::http {

// The body of a response that is written as it is produced (an event
// stream): the session writes the head, then hands the producer this sink.
class stream_sink {
 public:
  virtual ~stream_sink() = default;
  // One piece of the body. False when the client is gone or did not take the
  // bytes within the write deadline: the producer should stop.
  virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
};
using stream_producer = std::function<boost::asio::awaitable<void>(stream_sink&)>;

struct request_context {
  request& req;
  boost::asio::ip::address peer;
  std::string_view path;   // the target up to '?'
  std::string_view query;  // after '?', empty when none
  std::string_view param;  // the {param} segment of the matched pattern
  std::string_view route;  // the matched pattern ("/results/{id}"), for metrics and logs
  std::string_view request_id;  // X-Request-Id: the client's, when sane, else made up
  std::string client;  // who the client gate admitted (API key id or address); empty before
  // Set by a handler whose response body streams; the response it returns
  // is then only the head (sent chunked).
  stream_producer stream = {};
  // Frees the connection's read buffer; a handler about to hold the request
  // (long poll) calls it so that thousands of held requests stay cheap.
  std::function<void()> release_read_buffer = {};
};

using handler = std::function<boost::asio::awaitable<response>(request_context&)>;

// An answer known without waiting, as an awaitable. For a layer that answers
// some requests itself and passes the rest on by returning the next layer's
// coroutine, unawaited: such a layer adds no coroutine frame per request.
boost::asio::awaitable<response> answer_now(response res);

class router {
 public:
  // Pattern segments are literal or one "{name}" placeholder matching a
  // single non-empty segment.
  void add(verb method, std::string pattern, handler h);

  boost::asio::awaitable<response> dispatch(request_context& ctx) const;

  // This router as the server's entry handler; the router must outlive it.
  handler as_handler() const {
    return [this](request_context& ctx) { return dispatch(ctx); };
  }

  // Every pattern once, in the order added (the OpenAPI test reads these).
  std::vector<std::string> patterns() const;

 private:
  struct route {
    verb method;
    std::string pattern;
    std::vector<std::string> segments;
    handler h;
  };
  // The route for the path and method, with its {param} segment; when there
  // is none, `allow` lists the methods the path has (empty: no such path).
  const route* match(std::string_view path, verb method, std::string_view& param,
                     std::string& allow) const;
  std::vector<route> routes_;
};

}  // namespace jobrelay::http
