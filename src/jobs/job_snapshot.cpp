#include "jobrelay/jobs/job_snapshot.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "jobrelay/json_escape.hpp"
#include "jobrelay/text.hpp"
#include "jobrelay/time_format.hpp"

namespace jobrelay::jobs {
namespace {

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

// Milliseconds as seconds with up to three decimals, trailing zeros trimmed
// ("1.9", "3"): the same text as number(ms / 1000.0, 3) without printf's
// floating-point path, which was ~8% of a running job's GET.
void append_millis_as_seconds(std::string& out, std::int64_t ms) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms / 1000);
  out.append(buf, end);
  int frac = static_cast<int>(ms % 1000);
  if (frac == 0) return;
  int digits = 3;
  while (frac % 10 == 0) frac /= 10, --digits;
  char text[4] = {'.', '0', '0', '0'};
  for (int i = digits; i > 0; --i, frac /= 10) text[i] = static_cast<char>('0' + frac % 10);
  out.append(text, static_cast<std::size_t>(digits) + 1);
}

}  // namespace

void job_snapshot::publish_encoded(std::string made) const {
  // One lock for all snapshots: it is held for a move, once per job version.
  static std::mutex publishing;
  const std::lock_guard lock(publishing);
  if (encoded_ready_.load(std::memory_order_relaxed)) return;
  encoded_ = std::move(made);
  encoded_ready_.store(true, std::memory_order_release);
}

job_snapshot::job_snapshot(job_state state) : state_(std::move(state)) {
  const auto& s = state_;
  // Built by appending in place: this runs for every version of every job,
  // and concatenated temporaries were half of its cost.
  head_.reserve(160);
  head_ += "{\"id\":";
  append_json_string(head_, s.id);
  head_ += ",\"status\":\"";
  head_ += to_string(s.status);
  head_ += "\",\"created_at\":\"";
  append_rfc3339(head_, s.created_at);
  head_ += "\",\"updated_at\":\"";
  append_rfc3339(head_, s.updated_at);
  head_ += "\",\"elapsed_seconds\":";

  if (s.progress) {
    progress_part_ += ",\"progress\":";
    progress_part_ += number(*s.progress, 4);
  }
  if (s.eta_seconds) {
    progress_part_ += ",\"eta_seconds\":";
    progress_part_ += std::to_string(*s.eta_seconds);
  }
  if (s.status == job_status::succeeded) {
    const std::string_view result =
        s.result_json.empty() ? std::string_view("null") : s.result_json;
    constexpr std::string_view prefix = ",\"result\":";
    result_part_.reserve(prefix.size() + result.size());
    result_part_ += prefix;
    result_part_ += result;
  }
  // The result is kept once, in the cached part: a finished job holds its
  // (possibly large) result for result_ttl_seconds (release_storage: an
  // assigned empty string kept ~1 KB per finished job in bench D).
  release_storage(state_.result_json);
  auto& after_result = after_result_;
  if (s.error) {
    after_result += ",\"error\":{\"code\":";
    append_json_string(after_result, s.error->code);
    after_result += ",\"message\":";
    append_json_string(after_result, s.error->message);
    if (!s.error->upstream_json.empty()) {
      after_result += ",\"upstream\":";
      after_result += s.error->upstream_json;
    }
    after_result += '}';
  }
  // Ids are URL-safe by construction, so they need no escaping in a path.
  after_result += ",\"links\":{\"self\":\"/results/";
  after_result += s.id;
  after_result += "\",\"events\":\"/results/";
  after_result += s.id;
  after_result += "/events";
  if (!s.events_token.empty()) {
    after_result += "?token=";
    after_result += s.events_token;
  }
  after_result += "\"}";
  etag_ += '"';
  etag_ += std::to_string(s.version);
  etag_ += '"';
}

std::string_view job_snapshot::result_json() const {
  constexpr std::string_view prefix = ",\"result\":";
  return result_part_.empty() ? std::string_view{} : std::string_view(result_part_).substr(prefix.size());
}

std::int64_t job_snapshot::elapsed_millis(system_time now) const {
  const system_time end = state_.finished_at ? *state_.finished_at : now;
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(end - state_.created_at).count();
  return ms < 0 ? 0 : ms;
}

double job_snapshot::elapsed_seconds(system_time now) const {
  return static_cast<double>(elapsed_millis(now)) / 1000.0;
}

std::string job_snapshot::document(system_time now, std::optional<bool> reused,
                                   bool with_result) const {
  std::string out;
  out.reserve(head_.size() + progress_part_.size() + result_part_.size() + after_result_.size() +
              32);
  out += head_;
  append_millis_as_seconds(out, elapsed_millis(now));
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
