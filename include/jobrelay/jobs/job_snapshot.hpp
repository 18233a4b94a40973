// One published version of a job with its JSON document serialized once.
// Requests share the snapshot read-only; only elapsed_seconds of a running
// job is spliced in per request, everything else is cached bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "jobrelay/jobs/job.hpp"

namespace jobrelay::jobs {

class job_snapshot {
 public:
  explicit job_snapshot(job_state state);
  // The same, with the result given apart (state.result_json is dropped): a
  // publisher that keeps its state need not copy the result into a state
  // the snapshot would empty at once.
  job_snapshot(job_state state, std::string_view result_json);

  // The state as published, except result_json, which is empty: the result
  // lives once, in the cached document (result_json() below).
  const job_state& state() const { return state_; }
  // The serialized result of a succeeded job; empty otherwise.
  std::string_view result_json() const;
  const std::string& id() const { return state_.id; }
  job_status status() const { return state_.status; }
  bool terminal() const { return is_terminal(state_.status); }

  // The job document of API.md. `reused` adds the field POST /analyze returns;
  // without_result drops `result` (batch status). `link_prefix` goes before
  // the paths in `links`: the path of server.public_url when it has one
  // ("/jobrelay" for https://api.example.com/jobrelay), so that the links
  // resolve against the public origin as Location does.
  std::string document(system_time now, std::optional<bool> reused = std::nullopt,
                       bool with_result = true, std::string_view link_prefix = {}) const;
  // The same, into `out` (replacing what it held): for a caller that reuses
  // one buffer rather than allocating a document's size per request.
  void document_into(std::string& out, system_time now, std::optional<bool> reused = std::nullopt,
                     bool with_result = true, std::string_view link_prefix = {}) const;

  // Strong validator derived from the stored version only, so every replica
  // computes the same one for the same state. Quoted.
  const std::string& etag() const { return etag_; }

  double elapsed_seconds(system_time now) const;
  std::int64_t elapsed_millis(system_time now) const;

  // Bytes this snapshot holds; what limits.max_cache_bytes counts.
  std::size_t byte_size() const;

  // A terminal job's document never changes, so an encoding of it (gzip)
  // can be kept per version. It is kept from the second request that wants
  // it on: most finished jobs are fetched once, by the poll that sees them
  // finish, and an encoding nobody asks for again would hold its bytes for
  // result_ttl (~900 bytes a job in bench D, a fifth of its memory).
  // Not std::call_once: glibc's pthread_once ends with a futex wake, a
  // syscall per finished job. Two threads racing here may both encode; the
  // first to publish wins and the other's copy is dropped.
  template <class Make>
  std::string encoded(Make make) const {
    if (encoded_ready_.load(std::memory_order_acquire)) return encoded_;
    std::string made = make();
    if (asked_before_.exchange(true, std::memory_order_relaxed)) publish_encoded(made);
    return made;
  }

 private:
  job_state state_;
  // The document is head + elapsed + progress part + result part + after
  // result + '}', the four parts kept end to end in one string (one
  // allocation per version, not four): head up to and including
  // `"elapsed_seconds":`, then the progress part, the result part (apart for
  // documents without it) and the rest (error and links).
  std::string parts_;
  std::uint32_t head_end_ = 0, progress_end_ = 0, result_end_ = 0, links_begin_ = 0;
  void append_links(std::string& out, std::string_view prefix) const;
  std::string_view part(std::uint32_t from, std::size_t to) const {
    return std::string_view(parts_).substr(from, to - from);
  }
  std::string etag_;
  void build_parts(std::string_view result);
  void publish_encoded(std::string made) const;

  mutable std::atomic<bool> asked_before_{false};
  mutable std::atomic<bool> encoded_ready_{false};
  mutable std::string encoded_;
};

using snapshot_ptr = std::shared_ptr<const job_snapshot>;

}  // namespace jobrelay::jobs
