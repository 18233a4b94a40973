#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <cctype>

#include "jobrelay/api/service.hpp"

namespace jobrelay::api {
namespace {

constexpr std::string_view allowed_methods = "GET, POST, DELETE";
constexpr std::string_view allowed_headers =
    "Authorization, Content-Type, If-None-Match, Idempotency-Key, Prefer, Last-Event-ID, X-Request-Id";
constexpr std::string_view exposed_headers =
    "Location, Operation-Location, Retry-After, ETag, RateLimit, RateLimit-Policy, "
    "Preference-Applied, X-Request-Id";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void add_vary(http::response& res, std::string_view token) {
  const auto current = res[http::field::vary];
  if (current.empty()) res.set(http::field::vary, token);
  else res.set(http::field::vary, std::string(current) + ", " + std::string(token));
}

}  // namespace

http::handler with_cors(http::handler next, const config& cfg) {
  std::vector<std::string> origins;
  bool any = false;
  for (const auto& o : cfg.server.cors_allowed_origins) {
    if (o == "*") any = true;
    origins.push_back(lower(o));
  }
  return [next = std::move(next), origins = std::move(origins),
          any](http::request_context& ctx) -> boost::asio::awaitable<http::response> {
    const auto origin_field = ctx.req[http::field::origin];
    const std::string_view origin(origin_field.data(), origin_field.size());
    const bool allowed = !origin.empty() &&
                         (any || std::find(origins.begin(), origins.end(), lower(origin)) != origins.end());
    const bool preflight = ctx.req.method() == http::verb::options && !origin.empty() &&
                           ctx.req.count(http::field::access_control_request_method) > 0;
    http::response res;
    if (preflight) {
      // Never rate limited, never behind auth: the browser sends no key here.
      res = http::response{http::status::no_content, 11};
      if (allowed) {
        res.set(http::field::access_control_allow_methods, allowed_methods);
        res.set(http::field::access_control_allow_headers, allowed_headers);
        res.set(http::field::access_control_max_age, "600");
      }
    } else {
      res = co_await next(ctx);
    }
    if (allowed) {
      res.set(http::field::access_control_allow_origin, origin);
      if (!preflight) res.set(http::field::access_control_expose_headers, exposed_headers);
    }
    if (!origins.empty()) add_vary(res, "Origin");
    co_return res;
  };
}

}  // namespace jobrelay::api
