// The access log (log.access): one info line per answered request with the
// method, path (never the query: it may hold a link token), route, status,
// body bytes, duration, client and request id.
#pragma once

#include <functional>

namespace jobrelay {
struct config;
}
namespace jobrelay::http {
struct exchange_record;
}

namespace jobrelay::api {

class client_gate;

// The server's on_complete hook; empty when log.access is off. The gate
// names clients as the rate limiter does; it must outlive the hook.
std::function<void(const http::exchange_record&)> make_access_log(const config& cfg,
                                                                 const client_gate& gate);

}  // namespace jobrelay::api
