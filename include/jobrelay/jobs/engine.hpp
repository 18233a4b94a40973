// Runs jobs: one coroutine per job (on its own strand) submits the request to
// the upstream analyzer, polls the operation until it is terminal, and
// publishes every change to the results store. The engine never builds an
// HTTP response; handlers read jobs from the store.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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
  engine(boost::asio::any_io_executor executor, store::results_store& store,
         upstream::analyzer& analyzer, engine_options options, const clock& clock);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // Creates the job (status queued), stores it and starts its coroutine —
  // unless the idempotency claim finds the job an earlier request created.
  // Returns before anything is sent upstream. errc::store_full,
  // errc::store_unavailable, errc::shutting_down, errc::upstream_backlog.
  boost::asio::awaitable<result<store::insert_outcome>> submit(std::string request_body,
                                                              submission_options options = {});

  // Stops the job's coroutine, asks the upstream to cancel (best effort) and
  // forgets the job. errc::job_not_found when there is no such job.
  boost::asio::awaitable<result<void>> cancel(std::string id);

  // Stops every job coroutine (shutdown). Jobs keep their last state.
  void stop();

  // Job coroutines alive now.
  std::size_t active() const;
  // Accepted jobs whose submit the upstream has not answered yet.
  std::size_t pending_submits() const;

  void observe(engine_observer observer) { observer_ = std::move(observer); }

 private:
  struct job_run;
  boost::asio::awaitable<void> run(std::shared_ptr<job_run> job);
  boost::asio::awaitable<void> drive(std::shared_ptr<job_run> job);
  boost::asio::awaitable<bool> publish(job_run& job);
  void finish(const std::string& id);

  boost::asio::any_io_executor executor_;
  store::results_store& store_;
  upstream::analyzer& analyzer_;
  engine_options options_;
  const clock& clock_;

  struct registry;
  std::shared_ptr<registry> registry_;
  engine_observer observer_;
};

}  // namespace jobrelay::jobs
