// The HTTP request a call turns into, as it goes on the wire.
#pragma once

#include <string>

#include "jobrelay/upstream/http_client.hpp"
#include "jobrelay/upstream/target.hpp"

namespace jobrelay::upstream::detail {

inline constexpr const char* user_agent = "jobrelay/0.1";

// Method, path+query, Host, User-Agent, the call's headers (which may replace
// the defaults), a JSON body when there is one; HTTP/1.1 keep-alive. Written
// into one string by hand: a Beast message and its serializer cost a node
// per field and a variant of buffer sequences per write, a measured share of
// a small call's CPU.
std::string request_bytes(const http_call& call, const target& where);

}  // namespace jobrelay::upstream::detail
