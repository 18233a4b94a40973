#include "jobrelay/api/job_response.hpp"

#include "jobrelay/api/service.hpp"
#include "jobrelay/jobs/schedules.hpp"

namespace jobrelay::api {

http::status status_for(const jobs::job_snapshot& job) {
  switch (job.status()) {
    case jobs::job_status::succeeded: return http::status::ok;
    case jobs::job_status::failed: return http::status::internal_server_error;
    default: return http::status::accepted;
  }
}

http::response job_response(const service& s, const jobs::job_snapshot& job,
                            std::optional<bool> reused) {
  const auto now = s.clk.wall_now();
  http::response res{status_for(job), 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::etag, job.etag());
  if (!job.terminal()) {
    const auto& p = s.cfg.polling;
    res.set(http::field::retry_after,
            std::to_string(jobs::client_retry_after(job.elapsed_seconds(now), job.state().eta_seconds,
                                                    p.client_min_retry_after_seconds,
                                                    p.client_max_retry_after_seconds)));
  }
  res.body() = job.document(now, reused);
  return res;
}

}  // namespace jobrelay::api
