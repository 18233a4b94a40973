#include "jobrelay/store/job_record.hpp"

#include <nlohmann/json.hpp>

namespace jobrelay::store {
namespace {

using json = nlohmann::json;
using micros = std::chrono::microseconds;

std::int64_t to_micros(system_time t) {
  return std::chrono::duration_cast<micros>(t.time_since_epoch()).count();
}
system_time from_micros(std::int64_t us) {
  return system_time(std::chrono::duration_cast<system_time::duration>(micros(us)));
}

std::optional<jobs::job_status> status_from(std::string_view s) {
  for (auto st : {jobs::job_status::queued, jobs::job_status::running, jobs::job_status::succeeded,
                  jobs::job_status::failed})
    if (jobs::to_string(st) == s) return st;
  return std::nullopt;
}

}  // namespace

std::string encode_meta(const jobs::job_state& s, std::chrono::milliseconds next_poll) {
  json j = {{"id", s.id},
            {"status", jobs::to_string(s.status)},
            {"created", to_micros(s.created_at)},
            {"updated", to_micros(s.updated_at)},
            {"version", s.version}};
  if (s.finished_at) j["finished"] = to_micros(*s.finished_at);
  if (s.progress) j["progress"] = *s.progress;
  if (s.eta_seconds) j["eta"] = *s.eta_seconds;
  if (s.error) {
    j["error"] = {{"code", s.error->code}, {"message", s.error->message}};
    if (!s.error->upstream_json.empty()) j["error"]["upstream"] = s.error->upstream_json;
  }
  if (!s.operation_url.empty()) j["op"] = s.operation_url;
  if (!s.owner.empty()) j["owner"] = s.owner;
  if (!s.events_token.empty()) j["token"] = s.events_token;
  if (next_poll.count() > 0) j["next_poll_ms"] = next_poll.count();
  // Invalid UTF-8 from an upstream's error message must not make the write fail.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<decoded_job> decode_job(std::string_view meta, std::string_view result_json) {
  // Records are small and written by jobrelay itself; exceptions from a
  // damaged one stay inside this function.
  try {
    const json j = json::parse(meta);
    decoded_job d;
    auto& s = d.state;
    s.id = j.at("id").get<std::string>();
    const auto status = status_from(j.at("status").get<std::string>());
    if (!status || s.id.empty()) return errc::store_unavailable;
    s.status = *status;
    s.created_at = from_micros(j.at("created").get<std::int64_t>());
    s.updated_at = from_micros(j.at("updated").get<std::int64_t>());
    s.version = j.at("version").get<std::uint64_t>();
    if (auto it = j.find("finished"); it != j.end()) s.finished_at = from_micros(it->get<std::int64_t>());
    if (auto it = j.find("progress"); it != j.end()) s.progress = it->get<double>();
    if (auto it = j.find("eta"); it != j.end()) s.eta_seconds = it->get<long>();
    if (auto it = j.find("error"); it != j.end()) {
      jobs::job_error e;
      e.code = it->at("code").get<std::string>();
      e.message = it->at("message").get<std::string>();
      if (auto u = it->find("upstream"); u != it->end()) e.upstream_json = u->get<std::string>();
      s.error = std::move(e);
    }
    if (auto it = j.find("op"); it != j.end()) s.operation_url = it->get<std::string>();
    if (auto it = j.find("owner"); it != j.end()) s.owner = it->get<std::string>();
    if (auto it = j.find("token"); it != j.end()) s.events_token = it->get<std::string>();
    if (auto it = j.find("next_poll_ms"); it != j.end())
      d.next_poll = std::chrono::milliseconds(it->get<std::int64_t>());
    if (s.status == jobs::job_status::succeeded) s.result_json = std::string(result_json);
    return d;
  } catch (const json::exception&) {
    return errc::store_unavailable;
  }
}

}  // namespace jobrelay::store
