// How a job's state changes on what the upstream says: functions of the state,
// the upstream's answer and the time only, so API.md's rules for the job
// document (what moves updated_at and the ETag, when progress and the ETA
// appear, what a failure records) are tested without an engine or a clock.
#pragma once

#include <string>
#include <string_view>

#include "jobrelay/jobs/job.hpp"

namespace jobrelay::upstream {
struct status_document;
}

namespace jobrelay::jobs {

// Folds a status document into the job; true when a document field changed
// (status, progress, eta_seconds, result, error), which the caller publishes
// as a new version. A poll that brings nothing new changes nothing, so the
// ETag stays put; the ETA is recomputed only when progress changes. A
// terminal status sets finished_at.
bool apply_document(job_state& s, const upstream::status_document& doc, system_time now);

// Ends the job as failed with `code` (one of error_codes); `upstream_json`
// is kept as error.upstream when not empty.
void fail_job(job_state& s, std::string_view code, std::string message, system_time now,
              std::string upstream_json = {});

}  // namespace jobrelay::jobs
