#include "jobrelay/jobs/job.hpp"

namespace jobrelay::jobs {

std::string_view to_string(job_status s) {
  switch (s) {
    case job_status::queued: return "queued";
    case job_status::running: return "running";
    case job_status::succeeded: return "succeeded";
    case job_status::failed: return "failed";
  }
  return "unknown";
}

}  // namespace jobrelay::jobs
