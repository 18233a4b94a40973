// Reading one job on behalf of an admitted client: id shape, store lookup,
// ownership (another key's job is "not found", never "forbidden"), and the
// problem documents for what goes wrong. Shared by the /results handlers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string_view>
#include <variant>

#include "jobrelay/http/message.hpp"
#include "jobrelay/jobs/job_snapshot.hpp"

namespace jobrelay::api {

struct service;
struct admission;

http::response job_not_found();
// 503 + Retry-After for a store that cannot answer (an external one, down).
http::response store_unavailable(const boost::system::error_code& ec);

// The job, or the problem to answer instead (404, or 503 when the store is
// unreachable).
using visible_job = std::variant<jobs::snapshot_ptr, http::response>;
boost::asio::awaitable<visible_job> find_visible_job(service& s, std::string_view id,
                                                     const admission& admitted);
// The same answer without a coroutine, when the store has it at once
// (results_store::find_at_once); nullopt: await find_visible_job.
std::optional<visible_job> find_visible_job_at_once(service& s, std::string_view id,
                                                    const admission& admitted);

// Job visibility under auth: the creating key, or a link token for this job.
bool visible_to(const jobs::job_snapshot& job, const admission& admitted);

}  // namespace jobrelay::api
