#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "jobrelay/api/service.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::api {
namespace {

constexpr std::string_view allowed_methods = "GET, POST, DELETE";
constexpr std::string_view allowed_headers =
    "Authorization, Content-Type, If-None-Match, Idempotency-Key, Prefer, Last-Event-ID, X-Request-Id";
constexpr std::string_view exposed_headers =
    "Location, Operation-Location, Retry-After, ETag, RateLimit, RateLimit-Policy, "
    "Preference-Applied, X-Request-Id";

// server.cors.allowed_origins, applied to one answer.
class cors_policy {
 public:
  explicit cors_policy(const config& cfg) {
    for (const auto& o : cfg.server.cors_allowed_origins) {
      if (o == "*") any_ = true;
      origins_.push_back(o);
    }
  }

  static std::string_view origin_of(const http::request& req) {
    const auto o = req[http::field::origin];
    return {o.data(), o.size()};
  }

  bool allows(std::string_view origin) const {
    // Scheme and host are case-insensitive: compared as such, no lower-cased copy per request.
    return !origin.empty() &&
           (any_ || std::any_of(origins_.begin(), origins_.end(), [origin](const std::string& o) {
              return iequals_ascii(o, origin);
            }));
  }

  void decorate(const http::request& req, http::response& res, bool preflight) const {
    const auto origin = origin_of(req);
    if (allows(origin)) {
      res.set(http::field::access_control_allow_origin, origin);
      if (preflight) {
        res.set(http::field::access_control_allow_methods, allowed_methods);
        res.set(http::field::access_control_allow_headers, allowed_headers);
        res.set(http::field::access_control_max_age, "600");
      } else {
        res.set(http::field::access_control_expose_headers, exposed_headers);
      }
    }
    if (!origins_.empty()) {
      const auto vary = res[http::field::vary];
      res.set(http::field::vary, vary.empty() ? std::string("Origin") : std::string(vary) + ", Origin");
    }
  }

 private:
  std::vector<std::string> origins_;
  bool any_ = false;
};

bool is_preflight(const http::request& req) {
  return req.method() == http::verb::options && !cors_policy::origin_of(req).empty() &&
         req.count(http::field::access_control_request_method) > 0;
}

}  // namespace

http::handler with_cors(http::handler next, const config& cfg) {
  if (cfg.server.cors_allowed_origins.empty()) {
    // Every origin is refused: no answer gets CORS headers, a preflight gets
    // its bare 204, and everything else goes on without a coroutine frame of
    // this layer (the next one's is returned, not awaited).
    return [next = std::move(next)](http::request_context& ctx) {
      if (is_preflight(ctx.req))
        return http::answer_now(http::response{http::status::no_content, 11});
      return next(ctx);
    };
  }
  return [next = std::move(next), policy = std::make_shared<const cors_policy>(cfg)](
             http::request_context& ctx) -> boost::asio::awaitable<http::response> {
    const bool preflight = is_preflight(ctx.req);
    // Preflights are never rate limited and never behind auth: the browser
    // sends no key with them. (No co_await inside ?: — GCC 12 miscompiles it.)
    http::response res{http::status::no_content, 11};
    if (!preflight) res = co_await next(ctx);
    policy->decorate(ctx.req, res, preflight);
    co_return res;
  };
}

std::function<void(const http::request&, http::response&)> cors_decorator(const config& cfg) {
  if (cfg.server.cors_allowed_origins.empty()) return {};
  return [policy = std::make_shared<const cors_policy>(cfg)](const http::request& req, http::response& res) {
    policy->decorate(req, res, false);
  };
}

}  // namespace jobrelay::api
