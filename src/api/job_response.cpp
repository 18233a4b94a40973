#include "jobrelay/api/job_response.hpp"

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/compression.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/jobs/schedules.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::api {
namespace {

std::string_view opaque(std::string_view tag) {
  if (tag.size() >= 2 && (tag[0] == 'W' || tag[0] == 'w') && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

}  // namespace

http::status status_for(const jobs::job_snapshot& job) {
  switch (job.status()) {
    case jobs::job_status::succeeded: return http::status::ok;
    case jobs::job_status::failed: return http::status::internal_server_error;
    default: return http::status::accepted;
  }
}

bool etag_matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto item = trim_ows(header.substr(0, comma));
    header = comma == header.npos ? std::string_view{} : header.substr(comma + 1);
    if (item == "*" || opaque(item) == opaque(etag)) return true;
  }
  return false;
}

unsigned retry_after_for(const service& s, const jobs::job_snapshot& job) {
  const auto& p = s.cfg.polling;
  return jobs::client_retry_after(job.elapsed_seconds(s.clk.wall_now()), job.state().eta_seconds,
                                  p.client_min_retry_after_seconds, p.client_max_retry_after_seconds);
}

http::response job_response(const service& s, const http::request& req,
                            const jobs::job_snapshot& job, const admission& admitted,
                            std::optional<bool> reused, bool conditional) {
  const auto inm = http::first_value(req, http::field::if_none_match);
  const bool not_modified = conditional && !inm.empty() && etag_matches(inm, job.etag());
  http::response res{not_modified ? http::status::not_modified : status_for(job), 11};
  // A fresh answer: insert, not set, spares each field a search for a copy to replace.
  res.insert(http::field::cache_control, "no-store");
  res.insert(http::field::etag, job.etag());
  res.insert(http::field::vary, "Accept-Encoding");
  if (!job.terminal())
    res.insert(http::field::retry_after, std::to_string(retry_after_for(s, job)));
  admitted.decorate(res);
  if (not_modified) return res;

  res.insert(http::field::content_type, "application/json");
  const auto now = s.clk.wall_now();
  const bool gzip_accepted = accepts_gzip(http::first_value(req, http::field::accept_encoding));
  // A terminal document is fixed (reused aside): its compressed form can be
  // kept per version (job_snapshot::encoded), and a request served from it
  // builds no document at all. An empty encoding means "too small to compress".
  const bool fixed = job.terminal() && !reused;
  if (gzip_accepted && fixed) {
    auto packed = job.encoded([&] {
      // Only the compressed form leaves: the document is built in a buffer
      // the thread keeps, not in an allocation of its size per request.
      thread_local std::string doc;
      job.document_into(doc, now, std::nullopt, true, s.link_prefix);
      auto made = doc.size() > gzip_min_bytes ? gzip(doc).value_or(std::string()) : std::string();
      if (doc.capacity() > max_kept_buffer_bytes)
        release_storage(doc);  // a rare big one is not kept
      return made;
    });
    if (!packed.empty()) {
      res.insert(http::field::content_encoding, "gzip");
      res.body() = std::move(packed);
      return res;
    }
  }
  std::string body = job.document(now, reused, true, s.link_prefix);
  if (gzip_accepted && !fixed && body.size() > gzip_min_bytes) {
    if (auto packed = gzip(body)) {
      res.insert(http::field::content_encoding, "gzip");
      res.body() = std::move(*packed);
      return res;
    }
  }
  res.body() = std::move(body);
  return res;
}

}  // namespace jobrelay::api
