#include "jobrelay/jobs/job_snapshot.hpp"

#include <charconv>
#include <cmath>
#include <mutex>
#include <string_view>

#include "jobrelay/json_escape.hpp"
#include "jobrelay/text.hpp"
#include "jobrelay/time_format.hpp"

namespace jobrelay::jobs {
namespace {

// v with `decimals` decimals, trailing zeros trimmed so 0.5 stays 0.5 and 3
// stays 3 (to_chars: printf's floating-point path costs several times more).
void append_number(std::string& out, double v, int decimals) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  if (ec != std::errc()) {  // only for magnitudes past 1e60; progress is 0..1
    out += '0';
    return;
  }
  std::string_view text(buf, static_cast<std::size_t>(end - buf));
  if (text.find('.') != std::string_view::npos) {
    while (text.back() == '0') text.remove_suffix(1);
    if (text.back() == '.') text.remove_suffix(1);
  }
  out += text;
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

// The result is kept once, in the cached part: a finished job holds its
// (possibly large) result for result_ttl_seconds, so none stays in the state.
job_snapshot::job_snapshot(job_state state) : state_(std::move(state)) {
  const std::string result = std::move(state_.result_json);
  build_parts(result);
}

job_snapshot::job_snapshot(job_state state, std::string_view result) : state_(std::move(state)) {
  release_storage(state_.result_json);
  build_parts(result);
}

void job_snapshot::build_parts(std::string_view result) {
  const auto& s = state_;
  // Built by appending in place: this runs for every version of every job,
  // and concatenated temporaries were half of its cost.
  auto& out = parts_;
  // The fixed text of a document with every part is ~260 bytes; sized once
  // so that it neither grows nor holds slack for the job's lifetime.
  out.reserve(
      264 + 3 * s.id.size() + s.events_token.size() + result.size() +
      (s.error ? 48 + s.error->code.size() + s.error->message.size() + s.error->upstream_json.size()
               : 0));
  out += "{\"id\":";
  append_json_string(out, s.id);
  out += ",\"status\":\"";
  out += to_string(s.status);
  out += "\",\"created_at\":\"";
  append_rfc3339(out, s.created_at);
  out += "\",\"updated_at\":\"";
  append_rfc3339(out, s.updated_at);
  out += "\",\"elapsed_seconds\":";
  head_end_ = static_cast<std::uint32_t>(out.size());

  if (s.progress) {
    out += ",\"progress\":";
    append_number(out, *s.progress, 4);
  }
  if (s.eta_seconds) {
    out += ",\"eta_seconds\":";
    out += std::to_string(*s.eta_seconds);
  }
  progress_end_ = static_cast<std::uint32_t>(out.size());

  if (s.status == job_status::succeeded) {
    out += ",\"result\":";
    out += result.empty() ? std::string_view("null") : result;
  }
  result_end_ = static_cast<std::uint32_t>(out.size());

  if (s.error) {
    out += ",\"error\":{\"code\":";
    append_json_string(out, s.error->code);
    out += ",\"message\":";
    append_json_string(out, s.error->message);
    if (!s.error->upstream_json.empty()) {
      out += ",\"upstream\":";
      out += s.error->upstream_json;
    }
    out += '}';
  }
  links_begin_ = static_cast<std::uint32_t>(out.size());
  append_links(out, {});
  char version[24];
  const auto version_end = std::to_chars(version, version + sizeof version, s.version).ptr;
  etag_ += '"';
  etag_.append(version, version_end);
  etag_ += '"';
}

void job_snapshot::append_links(std::string& out, std::string_view prefix) const {
  // Ids are URL-safe by construction, so they need no escaping in a path;
  // the prefix is a checked URL path, escaped all the same.
  out += ",\"links\":{\"self\":\"";
  append_json_escaped(out, prefix);
  out += "/results/";
  out += state_.id;
  out += "\",\"events\":\"";
  append_json_escaped(out, prefix);
  out += "/results/";
  out += state_.id;
  out += "/events";
  if (!state_.events_token.empty()) {
    out += "?token=";
    out += state_.events_token;
  }
  out += "\"}";
}

std::string_view job_snapshot::result_json() const {
  constexpr std::string_view prefix = ",\"result\":";
  const auto result = part(progress_end_, result_end_);
  return result.empty() ? std::string_view{} : result.substr(prefix.size());
}

std::int64_t job_snapshot::elapsed_millis(system_time now) const {
  const system_time end = state_.finished_at ? *state_.finished_at : now;
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(end - state_.created_at).count();
  return ms < 0 ? 0 : ms;
}

double job_snapshot::elapsed_seconds(system_time now) const {
  return static_cast<double>(elapsed_millis(now)) / 1000.0;
}

std::string job_snapshot::document(system_time now, std::optional<bool> reused, bool with_result,
                                   std::string_view link_prefix) const {
  std::string out;
  document_into(out, now, reused, with_result, link_prefix);
  return out;
}

void job_snapshot::document_into(std::string& out, system_time now, std::optional<bool> reused,
                                 bool with_result, std::string_view link_prefix) const {
  out.clear();
  out.reserve(parts_.size() + 32 + 2 * link_prefix.size());
  out += part(0, head_end_);
  append_millis_as_seconds(out, elapsed_millis(now));
  out += part(head_end_, with_result ? result_end_ : progress_end_);
  if (link_prefix.empty()) {
    out += part(result_end_, parts_.size());
  } else {
    out += part(result_end_, links_begin_);
    append_links(out, link_prefix);
  }
  if (reused) out += *reused ? ",\"reused\":true" : ",\"reused\":false";
  out += '}';
}

std::size_t job_snapshot::byte_size() const {
  return sizeof(*this) + parts_.capacity() + state_.operation_url.capacity() +
         state_.owner.capacity() + state_.events_token.capacity() +
         (state_.error ? state_.error->upstream_json.capacity() + state_.error->message.size() : 0);
}

}  // namespace jobrelay::jobs
