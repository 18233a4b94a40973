#include "jobrelay/api/job_access.hpp"

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/store/results_store.hpp"

namespace jobrelay::api {

http::response job_not_found() {
  return http::problem_response(http::status::not_found, "job-not-found", "Not Found",
                                "no job with this id: it never existed, expired or was deleted");
}

http::response store_unavailable(const boost::system::error_code& ec) {
  return http::problem_with_retry(http::status::service_unavailable, "store-unavailable",
                                  "Service Unavailable", ec.message(), 2);
}

bool visible_to(const jobs::job_snapshot& job, const admission& admitted) {
  return admitted.via_link_token || job.state().owner == admitted.owner;
}

namespace {

visible_job visible_or_problem(result<jobs::snapshot_ptr> job, const admission& admitted) {
  if (!job) {
    if (job.error() == errc::job_not_found) return job_not_found();
    return store_unavailable(job.error());
  }
  if (!visible_to(**job, admitted)) return job_not_found();
  return std::move(*job);
}

}  // namespace

boost::asio::awaitable<visible_job> find_visible_job(service& s, std::string_view id,
                                                     const admission& admitted) {
  if (!jobs::is_valid_job_id(id)) co_return job_not_found();
  auto job = co_await s.store.find(id);
  co_return visible_or_problem(std::move(job), admitted);
}

std::optional<visible_job> find_visible_job_at_once(service& s, std::string_view id,
                                                    const admission& admitted) {
  if (!jobs::is_valid_job_id(id)) return job_not_found();
  auto job = s.store.find_at_once(id);
  if (!job) return std::nullopt;
  return visible_or_problem(std::move(*job), admitted);
}

}  // namespace jobrelay::api
