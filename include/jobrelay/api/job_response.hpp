// A job as an HTTP answer: the status code GET gives it (202 running, 200
// succeeded, 500 failed), the cached document, ETag, and the adaptive
// Retry-After while it runs. Shared by POST /analyze and GET /results/{id}.
#pragma once

#include <optional>

#include "jobrelay/http/message.hpp"
#include "jobrelay/jobs/job_snapshot.hpp"

namespace jobrelay::api {

struct service;

http::status status_for(const jobs::job_snapshot& job);

http::response job_response(const service& s, const jobs::job_snapshot& job,
                            std::optional<bool> reused = std::nullopt);

}  // namespace jobrelay::api
