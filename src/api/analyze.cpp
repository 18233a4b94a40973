// POST /analyze: validate, create the job, answer 202 before the upstream
// hears of it.
#include <openssl/sha.h>

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "jobrelay/api/admitted_route.hpp"
#include "jobrelay/api/auth.hpp"
#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/job_access.hpp"
#include "jobrelay/api/job_response.hpp"
#include "jobrelay/api/public_url.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/json_guard.hpp"
#include "jobrelay/store/results_store.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::api {
namespace {

using http::status;

// application/json, any case, parameters (charset) allowed.
bool is_json_media_type(std::string_view content_type) {
  return iequals_ascii(trim_ows(content_type.substr(0, content_type.find(';'))), "application/json");
}

// RFC 9110 field value of 1..255 visible ASCII characters.
bool is_valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (char c : key)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

std::string body_digest(std::string_view body) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

http::response bad_body(std::string_view detail) {
  return http::problem_response(status::bad_request, "invalid-body", "Invalid Request Body", detail);
}

http::response upstream_busy() {
  return http::problem_with_retry(status::service_unavailable, "upstream-busy", "Service Unavailable",
                                  "the analyzer has not yet taken the jobs already accepted "
                                  "(upstream.max_pending_submits), and no room came within "
                                  "upstream.admission_wait_ms; retry shortly",
                                  1);
}

http::response draining() {
  return http::problem_with_retry(status::service_unavailable, "draining", "Service Unavailable",
                                  "the server is shutting down; retry on another replica", 1);
}

// What a request asks for once it checks out, or the answer refusing it.
struct checked_submission {
  std::optional<http::response> refusal;
  jobs::submission_options options;
  std::string base_url;  // of the links in the answer
};

checked_submission check_submission(service& s, http::request_context& ctx,
                                    const admission& admitted) {
  checked_submission out;
  const auto refuse = [&out](http::response r) {
    out.refusal = std::move(r);
    return std::move(out);
  };
  const auto base = public_base_url(ctx.req, admitted.peer_is_trusted_proxy, s.cfg.server.public_url);
  if (!base)
    return refuse(http::problem_response(status::bad_request, "invalid-host", "Bad Request",
                                         "the Host header is missing or not a valid host[:port]"));
  if (!is_json_media_type(ctx.req[http::field::content_type]))
    return refuse(http::problem_response(status::unsupported_media_type, "unsupported-media-type",
                                         "Unsupported Media Type",
                                         "the body must be JSON (Content-Type: application/json)"));

  // Validated without being parsed: the body goes upstream as sent.
  const auto checked = validate_json(ctx.req.body());
  if (!checked) {
    if (checked.error() == errc::json_too_deep)
      return refuse(bad_body("the JSON body is nested deeper than " +
                             std::to_string(max_json_depth) + " levels"));
    return refuse(bad_body("the body is not valid JSON"));
  }
  if (*checked != json_type::object) return refuse(bad_body("the body must be a JSON object"));
  out.base_url = *base;

  auto& options = out.options;
  options.owner = admitted.owner;
  options.request_id = ctx.request_id;
  if (s.gate.auth_enabled()) {
    // The link token outlives every state the job can be read in.
    const auto lifetime = std::chrono::seconds(s.cfg.jobs.max_job_duration_seconds) +
                          std::chrono::seconds(s.cfg.jobs.result_ttl_seconds);
    options.events_token = [&s, expires = s.clk.wall_now() + lifetime](const std::string& id) {
      return s.gate.tokens().issue(id, expires);
    };
  }
  // One search of the fields for the first copy and whether there is another.
  const auto [first_key, after_keys] = ctx.req.equal_range("Idempotency-Key");
  if (first_key != after_keys) {
    const auto key_field = first_key->value();
    const std::string_view key(key_field.data(), key_field.size());
    if (!is_valid_idempotency_key(key) || std::next(first_key) != after_keys)
      return refuse(http::problem_response(
          status::bad_request, "invalid-idempotency-key", "Invalid Idempotency-Key",
          "Idempotency-Key must be 1 to 255 visible ASCII characters, sent once"));
    // Scoped per client: the same key from two clients names two jobs.
    options.idempotency = store::idempotency_claim{admitted.client_id + "\n" + std::string(key),
                                                   body_digest(ctx.req.body())};
  }
  return out;
}

http::response answer_submitted(service& s, http::request_context& ctx, const admission& admitted,
                                const std::string& base_url,
                                const result<store::insert_outcome>& submitted) {
  if (!submitted) {
    if (submitted.error() == errc::store_full)
      return http::problem_with_retry(status::service_unavailable, "job-table-full",
                                      "Service Unavailable",
                                      "the job table is full (limits.max_jobs); retry later", 5);
    if (submitted.error() == errc::upstream_backlog) return upstream_busy();
    if (submitted.error() == errc::store_unavailable) return store_unavailable(submitted.error());
    return http::problem_with_retry(status::service_unavailable, "unavailable",
                                    "Service Unavailable", submitted.error().message(), 2);
  }
  using kind = store::insert_outcome::kind;
  if (submitted->what == kind::conflict) {
    auto res = http::problem_response(
        status::unprocessable_entity, "idempotency-key-reused", "Idempotency-Key Reused",
        "this Idempotency-Key was used with a different request body; use a new key for a new job");
    admitted.decorate(res);
    return res;
  }
  const auto& job = *submitted->job;
  const bool reused = submitted->what == kind::reused;
  // A reused job answers as GET would (202, 200 or 500); a POST is never 304.
  auto res = job_response(s, ctx.req, job, admitted, reused, /*conditional=*/false);
  if (!reused) res.result(status::accepted);
  const std::string url = base_url + "/results/" + job.id();
  res.set(http::field::location, url);
  res.set("Operation-Location", url);
  if (res[http::field::retry_after].empty() && !job.terminal())
    res.set(http::field::retry_after, std::to_string(retry_after_for(s, job)));
  return res;
}

// The coroutine keeps to the steps that wait (room, the store); checking the
// request and writing the answer are plain functions, so that its frame
// stays within the 1,020 bytes Asio recycles.
boost::asio::awaitable<http::response> admitted_analyze(service& s, http::request_context& ctx,
                                                        const admission& admitted) {
  if (s.draining.load()) co_return draining();
  // Before any parsing: under overload a refusal must cost less than the
  // work it refuses. A burst is held for room first (each submit the
  // upstream answers lets one held request in), so it is absorbed rather
  // than bounced; only a backlog that outlasts the wait is refused.
  if (s.engine.backlogged()) {
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(s.cfg.upstream.admission_wait_ms);
    const bool room = co_await s.engine.wait_for_room(until);
    // A drain that began meanwhile (it also ends the wait) is the reason to
    // give: this replica is going, so retry elsewhere, not "the analyzer is busy".
    if (s.draining.load()) co_return draining();
    if (!room) co_return upstream_busy();
  }
  checked_submission checked = check_submission(s, ctx, admitted);
  if (checked.refusal) co_return std::move(*checked.refusal);
  // The client's bytes go upstream unchanged.
  auto submitted = co_await s.engine.submit(std::move(ctx.req.body()), std::move(checked.options));
  co_return answer_submitted(s, ctx, admitted, checked.base_url, submitted);
}

}  // namespace

void add_analyze_routes(http::router& r, service& s) {
  r.add(http::verb::post, "/analyze", admitted_route(s, limit_class::submit, admitted_analyze));
}

}  // namespace jobrelay::api
