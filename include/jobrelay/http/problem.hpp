// RFC 9457 problem documents: the body of every error that is not a job
// document. `type` is a URN naming the problem, stable for clients to branch
// on; title and detail are for humans.
#pragma once

#include <string_view>

#include "jobrelay/http/message.hpp"

namespace jobrelay::http {

response problem_response(status code, std::string_view type_slug, std::string_view title,
                          std::string_view detail);

// A 429/503 problem with the Retry-After every such answer carries.
response problem_with_retry(status code, std::string_view type_slug, std::string_view title,
                            std::string_view detail, unsigned retry_after_seconds);

}  // namespace jobrelay::http
