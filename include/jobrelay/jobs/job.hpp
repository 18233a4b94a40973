// The state of one job, as the engine changes it and the store keeps it.
// Nothing here knows HTTP or the upstream's wire format.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jobrelay/clock.hpp"

namespace jobrelay::jobs {

enum class job_status { queued, running, succeeded, failed };

std::string_view to_string(job_status s);
inline bool is_terminal(job_status s) {
  return s == job_status::succeeded || s == job_status::failed;
}

// error.code values of API.md.
namespace error_codes {
inline constexpr std::string_view upstream_failed = "upstream_failed";
inline constexpr std::string_view upstream_rejected = "upstream_rejected";
inline constexpr std::string_view upstream_unreachable = "upstream_unreachable";
inline constexpr std::string_view upstream_protocol = "upstream_protocol";
inline constexpr std::string_view timeout = "timeout";
}  // namespace error_codes

struct job_error {
  std::string code;
  std::string message;
  std::string upstream_json;  // serialized JSON kept as error.upstream; empty: none
  bool operator==(const job_error&) const = default;
};

struct job_state {
  std::string id;
  job_status status = job_status::queued;
  system_time created_at{};
  system_time updated_at{};  // moves only when a document field changes
  std::optional<system_time> finished_at;
  std::optional<double> progress;     // 0..1, only when the upstream reports it
  std::optional<long> eta_seconds;    // recomputed only when progress changes
  std::string result_json;            // serialized upstream result; succeeded only
  std::optional<job_error> error;     // failed only
  std::uint64_t version = 1;          // bumped on every change; the ETag
  // Not part of the document:
  std::string operation_url;  // so another poller can take the job over later
  std::string owner;          // id of the API key that created it; empty without auth
  std::string events_token;   // link token for links.events when auth is on
};

}  // namespace jobrelay::jobs
