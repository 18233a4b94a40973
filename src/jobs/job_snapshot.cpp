#include "jobrelay/jobs/job_snapshot.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "jobrelay/time_format.hpp"

namespace jobrelay::jobs {
namespace {

std::string json_quoted(std::string_view s) { return nlohmann::json(std::string(s)).dump(); }

std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  // Trim trailing zeros so 0.5 stays 0.5 and 3 stays 3.
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

}  // namespace

job_snapshot::job_snapshot(job_state state) : state_(std::move(state)) {
  const auto& s = state_;
  head_.reserve(160);
  head_ += "{\"id\":";
  head_ += json_quoted(s.id);
  head_ += ",\"status\":\"";
  head_ += to_string(s.status);
  head_ += "\",\"created_at\":\"";
  head_ += format_rfc3339(s.created_at);
  head_ += "\",\"updated_at\":\"";
  head_ += format_rfc3339(s.updated_at);
  head_ += "\",\"elapsed_seconds\":";

  if (s.progress) progress_part_ += ",\"progress\":" + number(*s.progress, 4);
  if (s.eta_seconds) progress_part_ += ",\"eta_seconds\":" + std::to_string(*s.eta_seconds);
  if (s.status == job_status::succeeded)
    result_part_ = ",\"result\":" + (s.result_json.empty() ? std::string("null") : s.result_json);
  // The result is kept once, in the cached part: a finished job holds its
  // (possibly large) result for result_ttl_seconds.
  state_.result_json = std::string();
  auto& after_result = after_result_;
  if (s.error) {
    after_result += ",\"error\":{\"code\":" + json_quoted(s.error->code) +
                    ",\"message\":" + json_quoted(s.error->message);
    if (!s.error->upstream_json.empty()) after_result += ",\"upstream\":" + s.error->upstream_json;
    after_result += "}";
  }
  // Ids are URL-safe by construction, so they need no escaping in a path.
  after_result += ",\"links\":{\"self\":\"/results/" + s.id + "\",\"events\":\"/results/" + s.id +
                  "/events" + (s.events_token.empty() ? "" : "?token=" + s.events_token) + "\"}";
  etag_ = "\"" + std::to_string(s.version) + "\"";
}

std::string_view job_snapshot::result_json() const {
  constexpr std::string_view prefix = ",\"result\":";
  return result_part_.empty() ? std::string_view{} : std::string_view(result_part_).substr(prefix.size());
}

double job_snapshot::elapsed_seconds(system_time now) const {
  const system_time end = state_.finished_at ? *state_.finished_at : now;
  const double secs = std::chrono::duration<double>(end - state_.created_at).count();
  return secs < 0 ? 0.0 : std::floor(secs * 1000.0) / 1000.0;
}

std::string job_snapshot::document(system_time now, std::optional<bool> reused,
                                   bool with_result) const {
  std::string out;
  out.reserve(head_.size() + progress_part_.size() + result_part_.size() + after_result_.size() +
              32);
  out += head_;
  out += number(elapsed_seconds(now), 3);
  out += progress_part_;
  if (with_result) out += result_part_;
  out += after_result_;
  if (reused) out += *reused ? ",\"reused\":true" : ",\"reused\":false";
  out += '}';
  return out;
}

std::size_t job_snapshot::byte_size() const {
  return sizeof(*this) + head_.capacity() + progress_part_.capacity() + result_part_.capacity() +
         after_result_.capacity() +
         state_.operation_url.capacity() +
         state_.owner.capacity() + state_.events_token.capacity() +
         (state_.error ? state_.error->upstream_json.capacity() + state_.error->message.size() : 0);
}

}  // namespace jobrelay::jobs
