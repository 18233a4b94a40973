// GET /results/{id}: the job as its current status code says.
#include <boost/asio/awaitable.hpp>

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/job_response.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/store/results_store.hpp"

namespace jobrelay::api {
namespace {

http::response not_found() {
  return http::problem_response(http::status::not_found, "job-not-found", "Not Found",
                                "no job with this id: it never existed, expired or was deleted");
}

boost::asio::awaitable<http::response> get_result(service& s, http::request_context& ctx) {
  auto admitted = s.gate.admit(ctx, limit_class::poll);
  if (admitted.rejection) co_return std::move(*admitted.rejection);
  if (!jobs::is_valid_job_id(ctx.param)) co_return not_found();
  auto job = co_await s.store.find(ctx.param);
  if (!job) {
    if (job.error() == errc::job_not_found) co_return not_found();
    co_return http::problem_with_retry(http::status::service_unavailable, "store-unavailable",
                                       "Service Unavailable", job.error().message(), 2);
  }
  co_return job_response(s, **job);
}

}  // namespace

void add_results_routes(http::router& r, service& s) {
  r.add(http::verb::get, "/results/{id}",
        [&s](http::request_context& ctx) { return get_result(s, ctx); });
}

}  // namespace jobrelay::api
