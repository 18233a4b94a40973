#include "jobrelay/jobs/job_transitions.hpp"

#include "jobrelay/jobs/schedules.hpp"
#include "jobrelay/upstream/status_document.hpp"

namespace jobrelay::jobs {

// Compares field by field: a poll of a running job copies no strings.
bool apply_document(job_state& s, const upstream::status_document& doc, system_time now) {
  const auto status_before = s.status;
  const auto progress_before = s.progress;
  const auto eta_before = s.eta_seconds;
  bool content_changed = false;
  switch (doc.status) {
    case upstream::upstream_status::not_started:
    case upstream::upstream_status::running:
      s.status = job_status::running;
      break;
    case upstream::upstream_status::succeeded: {
      s.status = job_status::succeeded;
      std::string result = doc.result_json.empty() ? "null" : doc.result_json;
      if (result != s.result_json) {
        s.result_json = std::move(result);
        content_changed = true;
      }
      break;
    }
    case upstream::upstream_status::failed:
    case upstream::upstream_status::canceled: {
      const bool canceled = doc.status == upstream::upstream_status::canceled;
      s.status = job_status::failed;
      job_error error{std::string(error_codes::upstream_failed),
                      !doc.error_message.empty() ? doc.error_message
                      : canceled                 ? "the upstream canceled the analysis"
                                                 : "the upstream reported that the analysis failed",
                      doc.error_json};
      if (error != s.error) {
        s.error = std::move(error);
        content_changed = true;
      }
      break;
    }
  }
  if (doc.progress && doc.progress != s.progress) {
    s.progress = doc.progress;
    s.eta_seconds = estimate_eta_seconds(*doc.progress,
                                         std::chrono::duration<double>(now - s.created_at).count());
  }
  if (s.status == job_status::succeeded && s.progress && *s.progress < 1.0) {
    s.progress = 1.0;
    s.eta_seconds = 0;
  }
  if (is_terminal(s.status)) s.finished_at = now;
  return content_changed || s.status != status_before || s.progress != progress_before ||
         s.eta_seconds != eta_before;
}

void fail_job(job_state& s, std::string_view code, std::string message, system_time now,
              std::string upstream_json) {
  s.status = job_status::failed;
  s.error = job_error{std::string(code), std::move(message), std::move(upstream_json)};
  s.finished_at = now;
}

}  // namespace jobrelay::jobs
