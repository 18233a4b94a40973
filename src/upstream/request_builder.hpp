// The HTTP request a call turns into.
#pragma once

#include "jobrelay/http/message.hpp"
#include "jobrelay/upstream/http_client.hpp"
#include "target.hpp"

namespace jobrelay::upstream::detail {

inline constexpr const char* user_agent = "jobrelay/0.1";

// Method, path+query, Host, User-Agent, the call's headers (which may replace
// the defaults), a JSON body when there is one, keep-alive.
http::request build_request(const http_call& call, const target& where);

// The request as it goes on the wire, written by hand: Beast's serializer
// walks a variant of buffer sequences per write, a measured share of a
// small call's CPU.
std::string serialize_request(const http::request& request);

}  // namespace jobrelay::upstream::detail
