// A job as an HTTP answer: the status code GET gives it (202 running, 200
// succeeded, 500 failed), the cached document (gzip when accepted and over
// 1 KiB), ETag and 304 for a matching If-None-Match, and the adaptive
// Retry-After while it runs. Shared by POST /analyze and GET /results/{id}.
#pragma once

#include <optional>
#include <string_view>

#include "jobrelay/http/message.hpp"
#include "jobrelay/jobs/job_snapshot.hpp"

namespace jobrelay::api {

struct service;
struct admission;

http::status status_for(const jobs::job_snapshot& job);

// True when an If-None-Match value names this ETag (weak comparison) or is *.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

http::response job_response(const service& s, const http::request& req,
                            const jobs::job_snapshot& job, const admission& admitted,
                            std::optional<bool> reused = std::nullopt, bool conditional = true);

// Retry-After (whole seconds) for a running job.
unsigned retry_after_for(const service& s, const jobs::job_snapshot& job);

}  // namespace jobrelay::api
