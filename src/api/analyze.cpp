// POST /analyze: validate, create the job, answer 202 before the upstream
// hears of it.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/job_response.hpp"
#include "jobrelay/api/public_url.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/json_guard.hpp"

namespace jobrelay::api {
namespace {

using http::status;

// application/json, any case, parameters (charset) allowed.
bool is_json_media_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  auto type = content_type.substr(0, semi);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  constexpr std::string_view expected = "application/json";
  if (type.size() != expected.size()) return false;
  for (std::size_t i = 0; i < type.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(type[i])) != expected[i]) return false;
  return true;
}

http::response bad_body(std::string_view detail) {
  return http::problem_response(status::bad_request, "invalid-body", "Invalid Request Body", detail);
}

boost::asio::awaitable<http::response> analyze(service& s, http::request_context& ctx) {
  auto admitted = s.gate.admit(ctx, limit_class::submit);
  if (admitted.rejection) co_return std::move(*admitted.rejection);
  if (s.draining.load())
    co_return http::problem_with_retry(status::service_unavailable, "draining",
                                       "Service Unavailable",
                                       "the server is shutting down; retry on another replica", 1);

  const auto base = public_base_url(ctx.req, admitted.peer_is_trusted_proxy, s.cfg.server.public_url);
  if (!base)
    co_return http::problem_response(status::bad_request, "invalid-host", "Bad Request",
                                     "the Host header is missing or not a valid host[:port]");
  if (!is_json_media_type(ctx.req[http::field::content_type]))
    co_return http::problem_response(status::unsupported_media_type, "unsupported-media-type",
                                     "Unsupported Media Type",
                                     "the body must be JSON (Content-Type: application/json)");

  auto parsed = parse_untrusted_json(ctx.req.body());
  if (!parsed) {
    if (parsed.error() == errc::json_too_deep)
      co_return bad_body("the JSON body is nested deeper than " + std::to_string(max_json_depth) +
                         " levels");
    co_return bad_body("the body is not valid JSON");
  }
  if (!parsed->is_object()) co_return bad_body("the body must be a JSON object");

  // The client's bytes go upstream unchanged; the parse was only validation.
  auto job = co_await s.engine.submit(std::move(ctx.req.body()));
  if (!job) {
    if (job.error() == errc::store_full)
      co_return http::problem_with_retry(status::service_unavailable, "job-table-full",
                                         "Service Unavailable",
                                         "the job table is full (limits.max_jobs); retry later", 5);
    co_return http::problem_with_retry(status::service_unavailable, "unavailable",
                                       "Service Unavailable", job.error().message(), 2);
  }
  auto res = job_response(s, **job, /*reused=*/false);
  const std::string url = *base + "/results/" + (*job)->id();
  res.set(http::field::location, url);
  res.set("Operation-Location", url);
  co_return res;
}

}  // namespace

void add_analyze_routes(http::router& r, service& s) {
  r.add(http::verb::post, "/analyze", [&s](http::request_context& ctx) { return analyze(s, ctx); });
}

}  // namespace jobrelay::api
