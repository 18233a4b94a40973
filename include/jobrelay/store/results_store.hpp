// Where jobs live between the engine that changes them and the handlers that
// read them. The interface is asynchronous so that an external store (Redis)
// can implement it without blocking an I/O thread; the in-memory one answers
// at once. The store knows nothing of HTTP or of upstreams.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jobrelay/error.hpp"
#include "jobrelay/jobs/job_snapshot.hpp"

namespace jobrelay::store {

struct store_stats {
  std::uint64_t jobs = 0;
  std::uint64_t queued = 0;
  std::uint64_t running = 0;
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t bytes = 0;
  std::uint64_t evicted = 0;  // dropped for the byte budget before their TTL
  std::uint64_t expired = 0;  // dropped at the end of their TTL
};

// An Idempotency-Key, scoped to its client, and a digest of the request body
// it came with.
struct idempotency_claim {
  std::string scoped_key;
  std::string body_digest;
};

struct insert_outcome {
  enum class kind {
    created,   // the job was added
    reused,    // the key was known: `job` is the job it created
    conflict,  // the key was known with another body: nothing added
  };
  kind what = kind::created;
  jobs::snapshot_ptr job;
};

class results_store {
 public:
  virtual ~results_store() = default;

  // Adds a new job, atomically with its idempotency claim when there is one,
  // so two concurrent first requests with one key create one job.
  // errc::store_full when limits.max_jobs jobs are held.
  virtual boost::asio::awaitable<result<insert_outcome>> insert(
      jobs::snapshot_ptr job, std::optional<idempotency_claim> claim = std::nullopt) = 0;

  // Publishes a newer version of a known job. errc::job_not_found when the job
  // was deleted or has expired meanwhile (its engine should stop).
  virtual boost::asio::awaitable<result<void>> update(jobs::snapshot_ptr job) = 0;

  // errc::job_not_found for unknown, expired or deleted ids.
  virtual boost::asio::awaitable<result<jobs::snapshot_ptr>> find(std::string_view id) = 0;

  // errc::job_not_found when there was nothing to erase.
  virtual boost::asio::awaitable<result<void>> erase(std::string_view id) = 0;

  virtual store_stats stats() const = 0;
};

}  // namespace jobrelay::store
