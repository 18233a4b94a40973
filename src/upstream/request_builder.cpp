#include "request_builder.hpp"
#include "jobrelay/http/wire.hpp"

#include <boost/beast/core/string.hpp>

namespace jobrelay::upstream::detail {

namespace bhttp = boost::beast::http;

http::request build_request(const http_call& call, const target& where) {
  http::request request;
  request.version(11);
  const bhttp::verb verb = bhttp::string_to_verb(call.method);
  if (call.method.empty()) {
    request.method(bhttp::verb::get);
  } else if (verb == bhttp::verb::unknown) {
    request.method_string(call.method);
  } else {
    request.method(verb);
  }
  request.target(where.path);
  request.set(bhttp::field::host, where.host_header);
  request.set(bhttp::field::user_agent, user_agent);
  if (!call.body.empty()) request.set(bhttp::field::content_type, "application/json");

  // The call may override a default (e.g. its own Content-Type) but repeated
  // names it sends (several X-Foo) all go out.
  for (const auto& [name, value] : call.headers) {
    if (boost::beast::iequals(name, "host") || boost::beast::iequals(name, "user-agent") ||
        boost::beast::iequals(name, "content-type")) {
      request.set(name, value);
    } else {
      request.insert(name, value);
    }
  }
  request.body() = call.body;
  request.keep_alive(true);
  request.prepare_payload();
  return request;
}

std::string serialize_request(const http::request& request) {
  std::string out;
  const auto method = request.method_string();
  const auto target = request.target();
  out.reserve(256 + request.body().size());
  out.append(method.data(), method.size());
  out += ' ';
  out.append(target.data(), target.size());
  out += " HTTP/1.1\r\n";
  http::append_fields(out, request);
  out += "\r\n";
  out += request.body();
  return out;
}

}  // namespace jobrelay::upstream::detail
