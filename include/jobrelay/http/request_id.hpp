// X-Request-Id: taken from the request when it is a sane token, else made up,
// so every answer and every log line about a request can be tied together
// (also across a load balancer or a frontend that sets its own).
#pragma once

#include <string>
#include <string_view>

namespace jobrelay::http {

// 1 to 128 characters of A-Z a-z 0-9 and - _ . : / + = @ (UUIDs, W3C trace
// ids, AWS "Root=1-..." style): nothing that could break a log line or a
// header. Anything else is replaced, not rejected: tracing must never cost a
// request.
bool is_valid_request_id(std::string_view id);

// 32 lowercase hex digits (128 bits) from a per-thread generator seeded from
// the OS: unique for correlation, cheap enough for every request. Not a secret.
std::string new_request_id();
// The same into `out`, reusing its storage (a connection keeps one).
void new_request_id(std::string& out);

}  // namespace jobrelay::http
