// /results: one job (GET with ETag and long poll, DELETE) and many (batch).
#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "jobrelay/api/admitted_route.hpp"
#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/compression.hpp"
#include "jobrelay/api/job_access.hpp"
#include "jobrelay/api/job_response.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/jobs/change_feed.hpp"
#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/json_escape.hpp"
#include "jobrelay/store/results_store.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::api {
namespace {

using http::status;
constexpr std::size_t max_batch_ids = 100;

// Whole seconds; more than an unsigned holds is as good as the most (the
// caller caps it at polling.max_wait_seconds anyway).
std::optional<unsigned> parse_seconds(std::string_view text) {
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ptr != text.data() + text.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) return std::numeric_limits<unsigned>::max();
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// RFC 7240 `Prefer: wait=N`, among other preferences; nullopt when absent.
// Names compare case-insensitively, "=" may have spaces around it, and the
// value may be a quoted string.
std::optional<unsigned> prefer_wait(std::string_view prefer) {
  while (!prefer.empty()) {
    const auto sep = prefer.find_first_of(",;");
    const auto item = prefer.substr(0, sep);
    prefer = sep == prefer.npos ? std::string_view{} : prefer.substr(sep + 1);
    const auto eq = item.find('=');
    if (eq == item.npos) continue;
    const auto name = trim_ows(item.substr(0, eq));
    if (!iequals_ascii(name, "wait")) continue;
    auto value = trim_ows(item.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    return parse_seconds(value);
  }
  return std::nullopt;
}

struct wait_request {
  unsigned seconds = 0;
  bool from_prefer = false;
};

// The answer for a job as found: the job's document, or the problem.
http::response answer_for(service& s, http::request_context& ctx, const admission& admitted,
                          visible_job found, const wait_request& wait) {
  if (auto* problem = std::get_if<http::response>(&found)) return std::move(*problem);
  auto res = job_response(s, ctx.req, *std::get<jobs::snapshot_ptr>(found), admitted);
  if (wait.from_prefer) res.set("Preference-Applied", "wait=" + std::to_string(wait.seconds));
  return res;
}

bool holds(const visible_job& found, const wait_request& wait) {
  return wait.seconds > 0 && found.index() == 0 && !std::get<0>(found)->terminal();
}

// A long poll: holds the request until the job's ETag differs from the
// client's (or from the state at arrival), the job ends, or the wait runs
// out; then answers the job as it is then.
boost::asio::awaitable<http::response> answer_when_changed(service& s, http::request_context& ctx,
                                                           const admission& admitted,
                                                           jobs::snapshot_ptr job,
                                                           wait_request wait) {
  // Subscribing before the re-read means a change in between is not missed.
  const auto inm = http::first_value(ctx.req, http::field::if_none_match);
  const std::string baseline = inm.empty() ? job->etag() : std::string(inm);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait.seconds);
  gauge_hold held(s.long_polls);
  if (ctx.release_read_buffer) ctx.release_read_buffer();
  auto subscription = co_await s.feed.subscribe(job->id());
  while (etag_matches(baseline, job->etag()) && !job->terminal() && !s.feed.closed()) {
    auto again = co_await find_visible_job(s, ctx.param, admitted);
    if (auto* problem = std::get_if<http::response>(&again)) co_return std::move(*problem);
    job = std::get<jobs::snapshot_ptr>(std::move(again));
    if (!etag_matches(baseline, job->etag()) || job->terminal()) break;
    if (!co_await subscription.wait(deadline)) break;  // the wait ran out
  }
  co_return answer_for(s, ctx, admitted, std::move(job), wait);
}

// GET /results/<id> with a store that must be asked (Redis).
boost::asio::awaitable<http::response> find_then_answer(service& s, http::request_context& ctx,
                                                        const admission& admitted,
                                                        wait_request wait) {
  auto found = co_await find_visible_job(s, ctx.param, admitted);
  if (holds(found, wait)) {
    auto held = co_await answer_when_changed(s, ctx, admitted, std::get<0>(found), wait);
    co_return held;
  }
  co_return answer_for(s, ctx, admitted, std::move(found), wait);
}

// Not a coroutine: a plain poll of a job in memory is answered without one
// (answer_now's frame is the smallest there is); a long poll or a store to
// ask returns the coroutine that waits (bench/README.md).
boost::asio::awaitable<http::response> get_result(service& s, http::request_context& ctx,
                                                  const admission& admitted) {
  wait_request wait;
  if (const auto q = query_param(ctx.query, "wait"); !q.empty() || ctx.query.find("wait=") != std::string_view::npos) {
    const auto n = parse_seconds(q);
    if (!n)
      return http::answer_now(http::problem_response(status::bad_request, "invalid-wait",
                                                     "Bad Request",
                                                     "wait must be a whole number of seconds"));
    wait.seconds = *n;
  } else if (const auto p = ctx.req["Prefer"]; !p.empty()) {
    // An unusable preference is ignored, as RFC 7240 asks.
    if (auto n = prefer_wait({p.data(), p.size()})) wait = {*n, true};
  }
  wait.seconds = std::min(wait.seconds, s.cfg.polling.max_wait_seconds);

  auto found = find_visible_job_at_once(s, ctx.param, admitted);
  if (!found) return find_then_answer(s, ctx, admitted, wait);
  if (holds(*found, wait))
    return answer_when_changed(s, ctx, admitted, std::get<0>(std::move(*found)), wait);
  return http::answer_now(answer_for(s, ctx, admitted, std::move(*found), wait));
}

boost::asio::awaitable<http::response> delete_result(service& s, http::request_context& ctx,
                                                     const admission& admitted) {
  auto found = co_await find_visible_job(s, ctx.param, admitted);
  if (auto* problem = std::get_if<http::response>(&found)) co_return std::move(*problem);
  auto canceled = co_await s.engine.cancel(std::string(ctx.param));
  if (!canceled) {
    if (canceled.error() == errc::job_not_found) co_return job_not_found();
    co_return store_unavailable(canceled.error());
  }
  co_return http::response{status::no_content, 11};
}

// The ids parameter with "%2C" (a client that encodes the separator) read
// as ','. Written by hand rather than with string::replace, which GCC 12
// warns about (-Wrestrict, a false positive) inside a coroutine.
std::string decoded_commas(std::string_view param) {
  std::string out;
  out.reserve(param.size());
  for (std::size_t i = 0; i < param.size(); ++i) {
    if (param.substr(i, 3) == "%2C" || param.substr(i, 3) == "%2c") {
      out += ',';
      i += 2;
    } else {
      out += param[i];
    }
  }
  return out;
}

boost::asio::awaitable<http::response> get_batch(service& s, http::request_context& ctx,
                                                 const admission& admitted) {
  const std::string ids_param = decoded_commas(query_param(ctx.query, "ids"));
  auto bad = [](std::string detail) {
    return http::problem_response(status::bad_request, "invalid-batch", "Bad Request", detail);
  };
  if (ids_param.empty()) co_return bad("give ids=a,b,... (up to 100 job ids)");
  std::vector<std::string> ids;
  for (std::string_view rest = ids_param; !rest.empty();) {
    const auto comma = rest.find(',');
    // Ids are 24 characters; a longer item is kept (and compared) cut short.
    const auto id = rest.substr(0, comma).substr(0, 64);
    rest = comma == rest.npos ? std::string_view{} : rest.substr(comma + 1);
    if (id.empty()) continue;
    // Not a job id: no such job, so it is "missing" like an unknown one (as
    // GET /results/{id} answers it 404), and the rest of the batch stands.
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.emplace_back(id);
    if (ids.size() > max_batch_ids) co_return bad("at most 100 ids per request");
  }
  if (ids.empty()) co_return bad("give ids=a,b,... (up to 100 job ids)");

  const auto now = s.clk.wall_now();
  std::string jobs_part, missing_part;
  for (const auto& id : ids) {
    if (!jobs::is_valid_job_id(id)) {
      if (!missing_part.empty()) missing_part += ',';
      append_json_string(missing_part, id);
      continue;
    }
    auto job = co_await s.store.find(id);
    if (!job && job.error() != errc::job_not_found)
      co_return store_unavailable(job.error());
    if (job && visible_to(**job, admitted)) {
      jobs_part += (jobs_part.empty() ? "\"" : ",\"") + id + "\":" +
                   (*job)->document(now, std::nullopt, /*with_result=*/false, s.link_prefix);
    } else {
      missing_part += (missing_part.empty() ? "\"" : ",\"") + id + "\"";
    }
  }
  http::response res{status::ok, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::vary, "Accept-Encoding");
  std::string body = "{\"jobs\":{" + jobs_part + "},\"missing\":[" + missing_part + "]}";
  // Over 1 KiB, gzip for a client that takes it, as for one job's document.
  if (body.size() > gzip_min_bytes &&
      accepts_gzip(http::first_value(ctx.req, http::field::accept_encoding))) {
    if (auto packed = gzip(body)) {
      res.set(http::field::content_encoding, "gzip");
      body = std::move(*packed);
    }
  }
  res.body() = std::move(body);
  co_return res;
}

}  // namespace

void add_results_routes(http::router& r, service& s) {
  r.add(http::verb::get, "/results", admitted_route(s, limit_class::poll, get_batch));
  r.add(http::verb::get, "/results/{id}", admitted_route(s, limit_class::poll, get_result));
  r.add(http::verb::delete_, "/results/{id}", admitted_route(s, limit_class::poll, delete_result));
}

}  // namespace jobrelay::api
