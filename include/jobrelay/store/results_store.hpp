// Where jobs live between the engine that changes them and the handlers that
// read them. The interface is asynchronous so that an external store (Redis)
// can implement it without blocking an I/O thread; the in-memory one answers
// at once. The store knows nothing of HTTP or of upstreams.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// What another replica needs, beyond the job's state, to carry on with an
// unfinished job whose poller died. A store shared by replicas keeps it; the
// in-memory store ignores it.
struct run_record {
  std::string request_body;           // until the upstream has taken it
  std::chrono::milliseconds next_poll{0};  // the poll schedule's current interval
};

struct claimed_job {
  jobs::snapshot_ptr job;
  run_record run;
};

class results_store {
 public:
  virtual ~results_store() = default;

  // Adds a new job, atomically with its idempotency claim when there is one,
  // so two concurrent first requests with one key create one job. In a shared
  // store the new job's lease is this replica's.
  // errc::store_full when limits.max_jobs jobs are held.
  virtual boost::asio::awaitable<result<insert_outcome>> insert(
      jobs::snapshot_ptr job, std::optional<idempotency_claim> claim = std::nullopt,
      run_record run = {}) = 0;

  // Publishes a newer version of a known job. errc::job_not_found when the job
  // was deleted or has expired meanwhile (its engine should stop);
  // errc::lease_lost when another replica polls it now (stop, quietly).
  virtual boost::asio::awaitable<result<void>> update(jobs::snapshot_ptr job,
                                                      std::chrono::milliseconds next_poll = {}) = 0;

  // errc::job_not_found for unknown, expired or deleted ids.
  virtual boost::asio::awaitable<result<jobs::snapshot_ptr>> find(std::string_view id) = 0;
  // What find() would answer, when the store knows it without waiting (a
  // store in this process's memory); nullopt: await find(). Lets the poll
  // path skip a coroutine frame per request.
  virtual std::optional<result<jobs::snapshot_ptr>> find_at_once(std::string_view id) const {
    return std::nullopt;
  }

  // Returns the job as it was; errc::job_not_found when there was nothing to erase.
  virtual boost::asio::awaitable<result<jobs::snapshot_ptr>> erase(std::string_view id) = 0;

  virtual store_stats stats() const = 0;

  // False while the store cannot be reached (/readyz answers 503).
  virtual bool available() const { return true; }

  // Periodic upkeep (expiry, counters), called about once a second.
  virtual boost::asio::awaitable<void> maintain() = 0;

  // --- Shared stores only: leases, so that one replica polls each job. ---
  // True when other replicas see the same jobs (leases matter).
  virtual bool shared() const { return false; }
  // How long a lease lasts unless renewed.
  virtual std::chrono::milliseconds lease_duration() const { return std::chrono::milliseconds(0); }
  // Extends this replica's leases on `ids`; returns the ids whose lease it no
  // longer holds (taken over, deleted, expired): their work must stop.
  virtual boost::asio::awaitable<result<std::vector<std::string>>> renew(std::vector<std::string> ids);
  // Takes over up to `max` unfinished jobs whose lease lapsed (their poller
  // died, or this replica restarted).
  virtual boost::asio::awaitable<result<std::vector<claimed_job>>> claim(std::size_t max);
  // Gives leases up at shutdown, so another replica takes the jobs over now
  // rather than when the leases lapse.
  virtual boost::asio::awaitable<void> release(std::vector<std::string> ids);
};

}  // namespace jobrelay::store
