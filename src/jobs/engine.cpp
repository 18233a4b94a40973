#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/log.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <atomic>
#include <random>

#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/jobs/schedules.hpp"
#include "jobrelay/store/results_store.hpp"
#include "jobrelay/upstream/analyzer.hpp"

namespace jobrelay::jobs {
namespace asio = boost::asio;
using upstream::attempt;
using outcome = attempt::outcome;
using std::chrono::milliseconds;

struct engine::job_run {
  job_run(asio::any_io_executor ex, job_state s, std::string b, std::shared_ptr<registry> r)
      : state(std::move(s)), body(std::move(b)), strand(asio::make_strand(ex)), counted_in(std::move(r)) {}
  ~job_run() { submit_settled(); }
  // Its submit was answered, given up on, or will never be sent.
  void submit_settled();
  job_state state;
  std::string body;
  asio::strand<asio::any_io_executor> strand;
  asio::cancellation_signal cancel;  // emitted on the strand only
  bool canceled_by_client = false;   // strand only
  bool stored_terminal = false;      // a terminal version reached the store
  // Counted in the engine's pending submits until the submit settles; shared
  // because a run can outlive the engine (a drain that ran out of time).
  std::shared_ptr<registry> counted_in;
};

struct engine::registry {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<job_run>> runs;
  bool stopped = false;
  // Jobs accepted whose submit the upstream has not answered yet: the
  // admission rule (engine_options::max_pending_submits) counts these.
  std::atomic<std::size_t> pending_submits{0};
};

void engine::job_run::submit_settled() {
  if (counted_in) counted_in->pending_submits.fetch_sub(1);
  counted_in.reset();
}

namespace {

double unit_random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// True once this job's coroutine was canceled (deadline, DELETE, shutdown).
asio::awaitable<bool> canceled() {
  co_return (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none;
}

asio::awaitable<void> sleep_for(milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  // Cancellation (stop, timeout) surfaces as an exception on the next
  // co_await of the job's coroutine, which ends it.
  co_await timer.async_wait(asio::use_awaitable);
}

// Retries transient failures with backoff. A transient outcome from here means
// the retry budget (max_retries in a row) is spent.
std::string_view outcome_name(outcome o) {
  switch (o) {
    case outcome::accepted:
    case outcome::status:
    case outcome::no_news: return "ok";
    case outcome::transient: return "transient";
    case outcome::rejected: return "rejected";
    case outcome::protocol: return "protocol";
  }
  return "protocol";
}

template <class Call>
asio::awaitable<attempt> with_retries(const engine_options& options, const engine_observer& observer,
                                      const std::string& job_id, const char* what, Call call) {
  for (unsigned failures = 0;; ++failures) {
    const auto started = std::chrono::steady_clock::now();
    attempt a = co_await call();
    if (observer.upstream_call)
      observer.upstream_call(what, outcome_name(a.kind),
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (a.kind != outcome::transient || failures >= options.max_retries) co_return a;
    milliseconds wait = retry_backoff(failures, options.retry_base, options.retry_cap, unit_random());
    if (a.retry_after) wait = std::max(wait, *a.retry_after);
    spdlog::warn("job {}: upstream {} failed ({}); retry {}/{} in {} ms", job_id, what, a.detail,
                 failures + 1, options.max_retries, wait.count());
    co_await sleep_for(wait);
  }
}

// Folds a status document into the job; true when a document field changed.
bool apply_document(job_state& s, const upstream::status_document& doc, system_time now) {
  const job_state before = s;
  switch (doc.status) {
    case upstream::upstream_status::not_started:
    case upstream::upstream_status::running: s.status = job_status::running; break;
    case upstream::upstream_status::succeeded:
      s.status = job_status::succeeded;
      s.result_json = doc.result_json.empty() ? "null" : doc.result_json;
      break;
    case upstream::upstream_status::failed:
    case upstream::upstream_status::canceled: {
      const bool canceled = doc.status == upstream::upstream_status::canceled;
      s.status = job_status::failed;
      s.error = job_error{std::string(error_codes::upstream_failed),
                          !doc.error_message.empty() ? doc.error_message
                          : canceled ? "the upstream canceled the analysis"
                                     : "the upstream reported that the analysis failed",
                          doc.error_json};
      break;
    }
  }
  if (doc.progress && doc.progress != s.progress) {
    s.progress = doc.progress;
    s.eta_seconds =
        estimate_eta_seconds(*doc.progress, std::chrono::duration<double>(now - s.created_at).count());
  }
  if (s.status == job_status::succeeded && s.progress && *s.progress < 1.0) {
    s.progress = 1.0;
    s.eta_seconds = 0;
  }
  if (is_terminal(s.status)) s.finished_at = now;
  return s.status != before.status || s.progress != before.progress ||
         s.eta_seconds != before.eta_seconds || s.result_json != before.result_json ||
         s.error != before.error;
}

void fail(job_state& s, std::string_view code, std::string message, system_time now,
          std::string upstream_json = {}) {
  s.status = job_status::failed;
  s.error = job_error{std::string(code), std::move(message), std::move(upstream_json)};
  s.finished_at = now;
}

}  // namespace

engine::engine(asio::any_io_executor executor, store::results_store& store,
               upstream::analyzer& analyzer, engine_options options, const clock& clock)
    : executor_(std::move(executor)),
      store_(store),
      analyzer_(analyzer),
      options_(options),
      clock_(clock),
      registry_(std::make_shared<registry>()) {}

engine::~engine() { stop(); }

asio::awaitable<result<store::insert_outcome>> engine::submit(std::string request_body,
                                                              submission_options options) {
  {
    std::lock_guard lock(registry_->mutex);
    if (registry_->stopped) co_return errc::shutting_down;
  }
  // Back-pressure: refuse new work while the upstream has not taken what was
  // already accepted, rather than queue jobs it will never get to. Reserved
  // before the insert so that concurrent submits cannot overshoot.
  auto& pending = registry_->pending_submits;
  if (pending.fetch_add(1) >= options_.max_pending_submits && options_.max_pending_submits > 0) {
    pending.fetch_sub(1);
    co_return errc::upstream_backlog;
  }
  struct reservation {
    std::atomic<std::size_t>* count;
    ~reservation() {
      if (count) count->fetch_sub(1);
    }
  } reserved{&pending};
  job_state s;
  s.id = new_job_id();
  s.status = job_status::queued;
  s.created_at = s.updated_at = clock_.wall_now();
  s.owner = std::move(options.owner);
  if (options.events_token) s.events_token = options.events_token(s.id);
  auto snapshot = std::make_shared<const job_snapshot>(s);
  auto stored = co_await store_.insert(snapshot, std::move(options.idempotency));
  if (!stored) co_return stored.error();
  if (stored->what != store::insert_outcome::kind::created) co_return *stored;

  reserved.count = nullptr;  // the job's run now owns the reservation
  auto job = std::make_shared<job_run>(executor_, std::move(s), std::move(request_body), registry_);
  {
    std::lock_guard lock(registry_->mutex);
    registry_->runs.emplace(job->state.id, job);
  }
  log::write(log::level::info, "job " + job->state.id + ": queued",
             {{"job_id", job->state.id}, {"request_id", options.request_id}});
  asio::co_spawn(job->strand, run(job),
                 asio::bind_cancellation_slot(job->cancel.slot(), asio::detached));
  co_return *stored;
}

asio::awaitable<result<void>> engine::cancel(std::string id) {
  std::shared_ptr<job_run> job;
  {
    std::lock_guard lock(registry_->mutex);
    if (auto it = registry_->runs.find(id); it != registry_->runs.end()) job = it->second;
  }
  if (job)
    asio::post(job->strand, [job] {
      job->canceled_by_client = true;
      job->cancel.emit(asio::cancellation_type::terminal);
    });
  auto erased = co_await store_.erase(id);
  if (erased) spdlog::info("job {}: canceled and forgotten", id);
  co_return erased;
}

asio::awaitable<void> engine::run(std::shared_ptr<job_run> job) {
  using namespace asio::experimental::awaitable_operators;
  const std::string id = job->state.id;
  const auto deadline_at = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(options_.max_job_duration) -
      std::chrono::duration<double>(clock_.wall_now() - job->state.created_at));
  asio::steady_timer deadline(co_await asio::this_coro::executor, deadline_at);
  try {
    auto first = co_await (drive(job) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    // The deadline won: whatever the canceled drive() had in hand, the store
    // must end up with a terminal job.
    if (first.index() == 1 && !std::get<0>(std::get<1>(first)) && !job->stored_terminal) {
      fail(job->state, error_codes::timeout,
           "the job outlived max_job_duration_seconds (" +
               std::to_string(options_.max_job_duration.count()) + " s)",
           clock_.wall_now());
      spdlog::warn("job {}: timed out after {} s", id, options_.max_job_duration.count());
      co_await publish(*job);
      if (!job->state.operation_url.empty()) co_await analyzer_.cancel(job->state.operation_url);
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted)
      spdlog::error("job {}: stopped by an unexpected error: {}", id, e.what());
  } catch (const std::exception& e) {
    spdlog::error("job {}: stopped by an unexpected error: {}", id, e.what());
  }
  // This coroutine is canceled for good; the courtesy DELETE runs apart.
  if (job->canceled_by_client && !job->state.operation_url.empty())
    asio::co_spawn(asio::make_strand(executor_), analyzer_.cancel(job->state.operation_url),
                   asio::detached);
  finish(id);
}

asio::awaitable<void> engine::drive(std::shared_ptr<job_run> job) {
  job_state& s = job->state;
  const auto fail_with = [&](std::string_view code, std::string message, std::string upstream = {}) {
    spdlog::warn("job {}: failed ({}): {}", s.id, code, message);
    fail(s, code, std::move(message), clock_.wall_now(), std::move(upstream));
  };

  attempt submitted = co_await with_retries(options_, observer_, s.id, "submit",
                                            [&] { return analyzer_.submit(job->body); });
  job->submit_settled();
  if (co_await canceled()) co_return;  // the aborted call's outcome means nothing
  job->body = std::string();  // the upstream has it; do not hold it for minutes
  switch (submitted.kind) {
    case outcome::accepted:
      s.status = job_status::running;
      s.operation_url = submitted.operation_url;
      spdlog::info("job {}: running (operation {})", s.id, s.operation_url);
      break;
    case outcome::status:
      apply_document(s, submitted.document, clock_.wall_now());
      spdlog::info("job {}: {} (final answer to the submit)", s.id, to_string(s.status));
      co_await publish(*job);
      co_return;
    case outcome::transient:
      fail_with(error_codes::upstream_unreachable,
                "the upstream could not be reached: " + submitted.detail);
      co_await publish(*job);
      co_return;
    case outcome::rejected:
      fail_with(error_codes::upstream_rejected, submitted.detail, submitted.upstream_json);
      co_await publish(*job);
      co_return;
    case outcome::no_news:
    case outcome::protocol:
      fail_with(error_codes::upstream_protocol, submitted.detail);
      co_await publish(*job);
      co_return;
  }
  if (!co_await publish(*job)) co_return;

  poll_schedule schedule(options_.poll_initial, options_.poll_backoff, options_.poll_max);
  std::optional<milliseconds> hint = submitted.retry_after;
  for (;;) {
    co_await sleep_for(schedule.next(hint));
    attempt polled = co_await with_retries(options_, observer_, s.id, "poll",
                                           [&] { return analyzer_.poll(s.operation_url); });
    if (co_await canceled()) co_return;
    hint = polled.retry_after;
    switch (polled.kind) {
      case outcome::status: {
        const auto was = s.status;
        if (apply_document(s, polled.document, clock_.wall_now())) {
          if (s.status != was) spdlog::info("job {}: {} -> {}", s.id, to_string(was), to_string(s.status));
          if (!co_await publish(*job)) co_return;
        }
        if (is_terminal(s.status)) co_return;
        break;
      }
      case outcome::no_news: break;
      case outcome::transient:
        fail_with(error_codes::upstream_unreachable,
                  "the upstream could not be reached: " + polled.detail);
        co_await publish(*job);
        co_return;
      case outcome::accepted:
      case outcome::rejected:
      case outcome::protocol:
        fail_with(error_codes::upstream_protocol, polled.detail);
        co_await publish(*job);
        co_return;
    }
  }
}

asio::awaitable<bool> engine::publish(job_run& job) {
  // A canceled drive() (deadline, DELETE, shutdown) must not publish what its
  // aborted call made of the cancellation; run() decides the final state.
  if (co_await canceled()) co_return false;
  job.state.version += 1;
  job.state.updated_at = clock_.wall_now();
  if (is_terminal(job.state.status) && observer_.finished)
    observer_.finished(job.state.status,
                       std::chrono::duration<double>(job.state.updated_at - job.state.created_at).count());
  auto stored = co_await store_.update(std::make_shared<const job_snapshot>(job.state));
  if (stored && is_terminal(job.state.status)) job.stored_terminal = true;
  if (!stored) {
    if (stored.error() == errc::job_not_found) {
      spdlog::info("job {}: gone from the store; stopping", job.state.id);
      co_return false;
    }
    spdlog::warn("job {}: could not store version {}: {}", job.state.id, job.state.version,
                 stored.error().message());
  }
  co_return true;
}

void engine::finish(const std::string& id) {
  std::lock_guard lock(registry_->mutex);
  registry_->runs.erase(id);
}

void engine::stop() {
  std::lock_guard lock(registry_->mutex);
  registry_->stopped = true;
  for (auto& [id, job] : registry_->runs)
    asio::post(job->strand, [job] { job->cancel.emit(asio::cancellation_type::terminal); });
}

std::size_t engine::pending_submits() const { return registry_->pending_submits.load(); }

std::size_t engine::active() const {
  std::lock_guard lock(registry_->mutex);
  return registry_->runs.size();
}

}  // namespace jobrelay::jobs
