// Runs jobs: submits each request to the upstream analyzer, polls the
// operation until it is terminal, and publishes every change to the results
// store. Between two upstream calls a job is only data: one wakeup queue and
// one timer hold every sleeping job, and at most max_concurrent_calls runner
// coroutines make the calls, taking due jobs in order. So a job costs a few
// hundred bytes rather than a coroutine, a timer and a strand, and the
// upstream never sees more calls at once than it has pooled connections.
// The engine never builds an HTTP response; handlers read jobs from the store.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "jobrelay/clock.hpp"
#include "jobrelay/error.hpp"
#include "jobrelay/jobs/job_snapshot.hpp"

#include "jobrelay/store/results_store.hpp"
namespace jobrelay::upstream {
class analyzer;
}

namespace jobrelay::jobs {

struct engine_options {
  std::chrono::milliseconds poll_initial{1000};
  double poll_backoff = 1.5;
  std::chrono::milliseconds poll_max{10000};
  unsigned max_retries = 5;
  std::chrono::milliseconds retry_base{250};
  std::chrono::milliseconds retry_cap{10000};
  std::chrono::seconds max_job_duration{300};
  // Admission rule: submit() refuses (errc::upstream_backlog) while this many
  // accepted jobs still wait for the upstream to answer their submit; 0 = no
  // bound.
  std::size_t max_pending_submits = 0;
  // Upstream calls (submits and polls) in flight at once; due jobs wait their
  // turn in order. >= 1.
  std::size_t max_concurrent_calls = 64;
};

struct submission_options {
  std::string owner;
  // Issues the job's link token once its id is known; empty: no token.
  std::function<std::string(const std::string& id)> events_token;
  std::optional<store::idempotency_claim> idempotency;
  std::string request_id;  // of the POST that created the job, for the log
};

// What the engine reports as it works, for metrics; set before jobs run.
struct engine_observer {
  // One upstream call: "submit" or "poll", an outcome ("ok", "transient",
  // "rejected", "protocol") and how long it took.
  std::function<void(std::string_view call, std::string_view outcome, double seconds)> upstream_call;
  // A job reached a terminal status after `seconds`.
  std::function<void(job_status status, double seconds)> finished;
};

class engine {
 public:
  // `executor` runs all job work and must run one handler at a time: a
  // strand, or an io_context run by one thread.
  engine(boost::asio::any_io_executor executor, store::results_store& store,
         upstream::analyzer& analyzer, engine_options options, const clock& clock);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Creates the job (status queued), stores it and queues its submit —
  // unless the idempotency claim finds the job an earlier request created.
  // Returns before anything is sent upstream. errc::store_full,
  // errc::store_unavailable, errc::shutting_down, errc::upstream_backlog.
  boost::asio::awaitable<result<store::insert_outcome>> submit(std::string request_body,
                                                              submission_options options = {});

  // Stops the job (aborting its upstream call in flight), asks the upstream
  // to cancel (best effort) and forgets the job. errc::job_not_found when
  // there is no such job.
  boost::asio::awaitable<result<void>> cancel(std::string id);

  // Stops every job (shutdown), aborting the calls in flight. Jobs keep their
  // last stored state.
  void stop();

  // Work a drain waits for: jobs not finished yet (running, sleeping, or
  // with a call in flight) and, with a shared store, the lease keeping.
  std::size_t active() const;
  // The jobs alone: what this replica polls the upstream for (/stats).
  std::size_t jobs_in_hand() const;
  // Accepted jobs whose submit the upstream has not answered yet.
  std::size_t pending_submits() const;
  // True while submit() would refuse with errc::upstream_backlog: lets a
  // handler refuse before it reads the body.
  bool backlogged() const;
  // Holds the caller until fewer than max_pending_submits accepted jobs wait
  // for their submit, or until `deadline`: back-pressure that absorbs a
  // burst instead of refusing it. Each settled submit wakes the longest-held
  // caller (a newcomer that finds room is not held at all). True when there
  // is room: call submit() at once (on one thread nothing runs in between;
  // with several, submit() may still refuse).
  boost::asio::awaitable<bool> wait_for_room(std::chrono::steady_clock::time_point deadline);
  // Requests held in wait_for_room now.
  std::size_t waiting_for_room() const;

  // Set before jobs run.
  void observe(engine_observer observer);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace jobrelay::jobs
