#include "jobrelay/jobs/engine.hpp"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <deque>
#include <random>

#include "jobrelay/jobs/change_feed.hpp"
#include "jobrelay/jobs/job_id.hpp"
#include "jobrelay/jobs/job_transitions.hpp"
#include "jobrelay/jobs/schedules.hpp"
#include "jobrelay/jobs/wakeup_queue.hpp"
#include "jobrelay/log.hpp"
#include "jobrelay/log_throttle.hpp"
#include "jobrelay/store/results_store.hpp"
#include "jobrelay/string_table.hpp"
#include "jobrelay/text.hpp"
#include "jobrelay/upstream/analyzer.hpp"

namespace jobrelay::jobs {
namespace asio = boost::asio;
using upstream::attempt;
using outcome = attempt::outcome;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

namespace {

// Sleeping jobs due within one tick share one alarm (see ring_time). Polls
// run seconds apart, so a few milliseconds late is nothing; per-job alarms
// cost a timer re-arm and a wake-up each.
constexpr milliseconds alarm_tick{4};

double unit_random() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

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

// Shared with the jobs, which can outlive the engine (a drain that ran out
// of time leaves calls in flight): their destructors touch only this.
struct counters {
  std::atomic<std::size_t> pending_submits{0};  // accepted, submit not settled
  std::atomic<std::size_t> active{0};           // admitted, not finished; and the lease work
  std::atomic<std::size_t> jobs{0};             // admitted, not finished: the jobs alone
  // POST /analyze requests held for room (wait_for_room), in arrival order
  // under one key; each settled submit gives the first of them its turn.
  change_feed room;
  std::atomic<std::size_t> room_waiters{0};
  static constexpr std::string_view room_key = "room";

  void settled() {
    pending_submits.fetch_sub(1);
    if (room_waiters.load() > 0) room.notify_one(room_key);
  }
};

// An unfinished job as the engine keeps it between upstream calls.
struct job_run {
  job_run(job_state s, std::string b, const engine_options& o, steady::time_point d,
          std::shared_ptr<counters> c)
      : state(std::move(s)),
        body(std::move(b)),
        schedule(o.poll_initial, o.poll_backoff, o.poll_max),
        deadline(d),
        counted_in(std::move(c)) {}
  ~job_run() { settle_submit(); }
  job_run(const job_run&) = delete;
  job_run& operator=(const job_run&) = delete;

  // Its submit was answered, given up on, or will never be sent.
  void settle_submit() {
    if (counted_in) counted_in->settled();
    counted_in.reset();
  }

  job_state state;
  std::string body;  // until the upstream has it
  poll_schedule schedule;
  std::optional<milliseconds> hint;  // the upstream's Retry-After for the next poll
  steady::time_point deadline;       // max_job_duration
  unsigned failures = 0;             // transient failures of the current call in a row
  std::uint64_t wake_ticket = 0;     // a wakeup with another ticket is stale
  bool submitted = false;
  bool done = false;  // finished, canceled or stopped: never steps again
  bool canceled_by_client = false;
  bool in_flight = false;  // a runner waits for its upstream call
  bool lease_lost = false;  // another replica polls it now: stop without a word upstream
  bool unstored = false;    // its latest state did not reach the store (unreachable): store it again
  // The store has its operation URL, so whoever deletes the job can cancel
  // it upstream; before that, a publish that finds the job deleted must.
  bool operation_url_stored = false;
  std::shared_ptr<counters> counted_in;  // released by settle_submit()
};

struct wakeup {
  std::shared_ptr<job_run> job;
  std::uint64_t ticket;
};

}  // namespace

// Everything below runs on `executor` (one handler at a time), except
// submit()'s first half, stop()'s flag and the counters.
struct engine::impl {
  impl(asio::any_io_executor ex, store::results_store& st, upstream::analyzer& an,
       engine_options o, const clock& c)
      : executor(std::move(ex)), store(st), analyzer(an), options(o), clk(c), alarm(executor) {
    options.max_concurrent_calls = std::max<std::size_t>(1, options.max_concurrent_calls);
  }

  void admit(std::shared_ptr<job_run> job);
  void make_ready(std::shared_ptr<job_run> job);
  asio::awaitable<void> run_steps();
  asio::awaitable<void> step(std::shared_ptr<job_run> job);
  asio::awaitable<bool> store_again(const std::shared_ptr<job_run>& job);
  asio::awaitable<void> time_out(const std::shared_ptr<job_run>& job);
  asio::awaitable<attempt> start_call(job_run& job);
  bool settle_call(const std::shared_ptr<job_run>& job, attempt& a, steady::time_point started);
  // `a` by reference: it lives in step()'s frame, which awaits these.
  asio::awaitable<void> after_submit(std::shared_ptr<job_run> job, attempt& a);
  asio::awaitable<void> after_poll(std::shared_ptr<job_run> job, attempt& a);
  asio::awaitable<bool> publish(job_run& job);
  asio::awaitable<bool> store_state(job_run& job);
  void finish_when_stored(std::shared_ptr<job_run> job);
  // `job` by reference: a shared_ptr copy made in a co_await expression is
  // one of the temporaries GCC 12 mishandles.
  asio::awaitable<void> fail_and_finish(const std::shared_ptr<job_run>& job, std::string_view code, std::string message,
                                        std::string upstream_json = {});
  void sleep(std::shared_ptr<job_run> job, milliseconds delay, bool within_deadline = true);
  void arm_alarm();
  void wake_due();
  void stop_all();
  void finish(job_run& job);
  void cancel_upstream(const std::string& operation_url);
  bool cancel_local(const std::string& id);
  // Shared stores: leases renewed, lapsed jobs taken over.
  asio::awaitable<void> keep_leases();
  asio::awaitable<void> renew_leases();
  asio::awaitable<void> take_over_lapsed();
  void resume(store::claimed_job claimed);
  void drop_lost(const std::string& id);

  asio::any_io_executor executor;
  store::results_store& store;
  upstream::analyzer& analyzer;
  engine_options options;
  const clock& clk;
  engine_observer observer;
  std::shared_ptr<counters> count = std::make_shared<counters>();
  std::atomic<bool> stopped{false};
  // An outage of the store or the upstream fails every job's call at once.
  log_throttle store_warnings, retry_warnings;

  // The jobs this replica works on, keyed by a view of each job's own id:
  // the entry holds the job, and a job's id never changes, so the key lives
  // as long as the entry without a copy. Open addressing, as in the store.
  boost::unordered_flat_map<std::string_view, std::shared_ptr<job_run>, string_hash, std::equal_to<>> runs;
  std::deque<std::shared_ptr<job_run>> ready;  // due, waiting for a runner
  std::size_t runners = 0;
  wakeup_queue<wakeup> sleeping;
  asio::steady_timer alarm;
  std::optional<steady::time_point> alarm_at;  // when the alarm is set to ring
  std::uint64_t alarm_ticket = 0;
  asio::steady_timer lease_timer{executor};
};

engine::engine(asio::any_io_executor executor, store::results_store& store,
               upstream::analyzer& analyzer, engine_options options, const clock& clock)
    : impl_(std::make_unique<impl>(std::move(executor), store, analyzer, options, clock)) {
  if (store.shared()) {
    // Counted as active so a drain waits for it to hand the leases back.
    impl_->count->active.fetch_add(1);
    asio::co_spawn(impl_->executor, impl_->keep_leases(), asio::detached);
  }
}

engine::~engine() { stop(); }

void engine::observe(engine_observer observer) { impl_->observer = std::move(observer); }

asio::awaitable<result<store::insert_outcome>> engine::submit(std::string request_body,
                                                              submission_options options) {
  impl& m = *impl_;
  if (m.stopped) co_return errc::shutting_down;
  // Back-pressure: refuse new work while the upstream has not taken what was
  // already accepted, rather than queue jobs it will never get to. Reserved
  // before the insert so that concurrent submits cannot overshoot.
  auto& pending = m.count->pending_submits;
  if (pending.fetch_add(1) >= m.options.max_pending_submits && m.options.max_pending_submits > 0) {
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
  s.created_at = s.updated_at = m.clk.wall_now();
  s.owner = std::move(options.owner);
  if (options.events_token) s.events_token = options.events_token(s.id);
  auto snapshot = std::make_shared<const job_snapshot>(s);
  // A shared store keeps the body until the upstream has it, so that another
  // replica can submit the job if this one dies first.
  store::run_record run;
  if (m.store.shared()) run = {request_body, m.options.poll_initial};
  auto stored = co_await m.store.insert(snapshot, std::move(options.idempotency), std::move(run));
  if (!stored) co_return stored.error();
  if (stored->what != store::insert_outcome::kind::created) co_return *stored;

  reserved.count = nullptr;  // the job now owns the reservation
  const auto deadline = steady::now() + std::chrono::duration_cast<steady::duration>(
                                            std::chrono::duration<double>(m.options.max_job_duration));
  auto job = std::make_shared<job_run>(std::move(s), std::move(request_body), m.options, deadline, m.count);
  if (log::enabled(log::level::info))
    log::write(log::level::info, "job " + job->state.id + ": queued",
               {{"job_id", job->state.id}, {"request_id", options.request_id}});
  asio::dispatch(m.executor, [&m, job = std::move(job)]() mutable { m.admit(std::move(job)); });
  co_return *stored;
}

asio::awaitable<result<void>> engine::cancel(std::string id) {
  impl& m = *impl_;
  // Named, not a temporary inside the co_await: GCC 12 destroys such
  // temporaries twice.
  auto on_engine = [&m, id]() -> asio::awaitable<bool> { co_return m.cancel_local(id); };
  const bool local = co_await asio::co_spawn(m.executor, std::move(on_engine), asio::use_awaitable);
  auto erased = co_await m.store.erase(id);
  if (!erased) co_return erased.error();
  spdlog::info("job {}: canceled and forgotten", id);
  // Polled by another replica (or by nobody yet): that poller stops when it
  // finds the job gone, and leaves the upstream to whoever deleted it.
  const auto& was = (*erased)->state();
  if (!local && !is_terminal(was.status) && !was.operation_url.empty()) {
    const std::string url = was.operation_url;
    asio::dispatch(m.executor, [&m, url] { m.cancel_upstream(url); });
  }
  co_return result<void>{};
}

void engine::stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->count->room.close();  // held submits are refused now, not at their deadline
  asio::dispatch(impl_->executor, [&m = *impl_] { m.stop_all(); });
}

std::size_t engine::pending_submits() const { return impl_->count->pending_submits.load(); }
bool engine::backlogged() const {
  const auto bound = impl_->options.max_pending_submits;
  return bound > 0 && impl_->count->pending_submits.load() >= bound;
}

std::size_t engine::active() const { return impl_->count->active.load(); }

std::size_t engine::jobs_in_hand() const {
  return impl_->count->jobs.load();
}

std::size_t engine::waiting_for_room() const { return impl_->count->room_waiters.load(); }

asio::awaitable<bool> engine::wait_for_room(std::chrono::steady_clock::time_point deadline) {
  // The counters outlive a stopped engine; so does this wait's hold on them.
  const std::shared_ptr<counters> count = impl_->count;
  count->room_waiters.fetch_add(1);
  struct leave {
    counters& c;
    bool took_room = false;
    ~leave() {
      c.room_waiters.fetch_sub(1);
      // A turn this waiter was given but did not use goes to the next one.
      if (!took_room && c.room_waiters.load() > 0) c.room.notify_one(counters::room_key);
    }
  } left{*count};
  // Subscribed before the first look, so a submit settling in between is
  // not missed.
  const std::string key(counters::room_key);  // named: no temporaries in a co_await (GCC 12)
  auto turn = co_await count->room.subscribe(key);
  for (;;) {
    if (impl_->stopped) co_return false;
    if (!backlogged()) {
      left.took_room = true;
      co_return true;
    }
    const bool woken = co_await turn.wait(deadline);
    if (!woken) co_return false;  // the wait ran out
  }
}

void engine::impl::admit(std::shared_ptr<job_run> job) {
  if (stopped) return;  // shutting down: it stays queued in the store
  count->active.fetch_add(1);
  count->jobs.fetch_add(1);
  runs.emplace(std::string_view(job->state.id), job);
  make_ready(std::move(job));
}

void engine::impl::make_ready(std::shared_ptr<job_run> job) {
  ready.push_back(std::move(job));
  if (runners >= options.max_concurrent_calls) return;
  ++runners;
  asio::co_spawn(executor, run_steps(), asio::detached);
}

// A runner: takes due jobs in order and makes one upstream call for each;
// it ends when none is due, so idle runners cost nothing.
asio::awaitable<void> engine::impl::run_steps() {
  while (!ready.empty() && !stopped) {
    auto job = std::move(ready.front());
    ready.pop_front();
    if (job->done) continue;
    try {
      co_await step(job);
    } catch (const std::exception& e) {
      spdlog::error("job {}: stopped by an unexpected error: {}", job->state.id, e.what());
      finish(*job);
    }
  }
  --runners;
}

// Kept small on purpose, as are the coroutines it awaits: a coroutine frame
// holds every local and every temporary of an awaited expression, and Asio
// recycles frames only up to 1,020 bytes (larger ones go to malloc each
// time, and evict the cached small ones). Work that does not suspend (logs,
// messages, bookkeeping) lives in plain functions.
asio::awaitable<void> engine::impl::step(std::shared_ptr<job_run> job) {
  if (job->unstored) {  // the store was unreachable: what the job knows goes there first
    const bool go_on = co_await store_again(job);
    if (!go_on) co_return;
  }
  if (steady::now() >= job->deadline) co_return co_await time_out(job);
  const auto started = steady::now();
  asio::awaitable<attempt> pending = start_call(*job);
  attempt a = co_await std::move(pending);
  if (!settle_call(job, a, started)) co_return;
  if (job->submitted)
    co_await after_poll(job, a);
  else
    co_await after_submit(job, a);
}

asio::awaitable<bool> engine::impl::store_again(const std::shared_ptr<job_run>& job) {
  const bool kept = co_await store_state(*job);
  if (!kept) {
    finish(*job);
    co_return false;
  }
  if (job->unstored || is_terminal(job->state.status)) {
    finish_when_stored(job);
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> engine::impl::time_out(const std::shared_ptr<job_run>& job) {
  spdlog::warn("job {}: timed out after {} s", job->state.id, options.max_job_duration.count());
  co_await fail_and_finish(job, error_codes::timeout,
                           "the job outlived max_job_duration_seconds (" +
                               std::to_string(options.max_job_duration.count()) + " s)");
  if (!job->state.operation_url.empty()) cancel_upstream(job->state.operation_url);
}

// One upstream call for the job, over by the job's deadline at the latest.
// Calls are not aborted by a cancellation signal: in Boost 1.81 a signal
// emitted after the call's operation completed can reach the handler of a
// socket already freed; a deadline the client enforces itself cannot.
asio::awaitable<attempt> engine::impl::start_call(job_run& job) {
  job.in_flight = true;
  if (job.submitted) return analyzer.poll(job.state.operation_url, job.deadline);
  return analyzer.submit(job.body, job.deadline);
}

// After a call: false when the job is done with for now (canceled, stopped,
// timed out or lost meanwhile, or a transient failure to retry later).
bool engine::impl::settle_call(const std::shared_ptr<job_run>& job, attempt& a,
                               steady::time_point started) {
  job->in_flight = false;
  const char* what = job->submitted ? "poll" : "submit";
  if (job->done || job->canceled_by_client || job->lease_lost || stopped ||
      steady::now() >= job->deadline) {
    // Overtaken while the call was out: its outcome means nothing now. But a
    // submit the upstream took made an operation, and a deleted (or timed
    // out, see time_out) job must not leave it running there.
    if (a.kind == upstream::attempt::outcome::accepted && job->state.operation_url.empty())
      job->state.operation_url = a.operation_url;
    if (job->canceled_by_client && !job->state.operation_url.empty())
      cancel_upstream(job->state.operation_url);
    if (job->canceled_by_client || job->lease_lost || stopped) finish(*job);
    else make_ready(job);  // the deadline: the next step times it out
    return false;
  }
  if (observer.upstream_call)
    observer.upstream_call(what, outcome_name(a.kind),
                           std::chrono::duration<double>(steady::now() - started).count());
  if (a.kind == outcome::transient && job->failures < options.max_retries) {
    milliseconds wait = retry_backoff(job->failures, options.retry_base, options.retry_cap, unit_random());
    if (a.retry_after) wait = std::max(wait, *a.retry_after);
    ++job->failures;
    if (std::string note; retry_warnings.allow(steady::now(), note))
      spdlog::warn("job {}: upstream {} failed ({}); retry {}/{} in {} ms{}", job->state.id, what,
                   a.detail, job->failures, options.max_retries, wait.count(), note);
    sleep(job, wait);
    return false;
  }
  job->failures = 0;
  return true;
}

asio::awaitable<void> engine::impl::after_submit(std::shared_ptr<job_run> job, attempt& a) {
  job_state& s = job->state;
  job->settle_submit();
  job->submitted = true;
  release_storage(job->body);  // the upstream has it; do not hold it for minutes
  switch (a.kind) {
    case outcome::accepted:
      s.status = job_status::running;
      s.operation_url = std::move(a.operation_url);
      spdlog::info("job {}: running (operation {})", s.id, s.operation_url);
      if (!co_await publish(*job)) co_return finish(*job);
      job->hint = a.retry_after;
      sleep(job, job->schedule.next(job->hint));
      co_return;
    case outcome::status:
      apply_document(s, a.document, clk.wall_now());
      spdlog::info("job {}: {} (final answer to the submit)", s.id, to_string(s.status));
      co_await publish(*job);
      co_return finish_when_stored(std::move(job));
    case outcome::transient:
      co_return co_await fail_and_finish(job, error_codes::upstream_unreachable,
                                         "the upstream could not be reached: " + a.detail);
    case outcome::rejected:
      co_return co_await fail_and_finish(job, error_codes::upstream_rejected, a.detail,
                                         std::move(a.upstream_json));
    case outcome::no_news:
    case outcome::protocol:
      co_return co_await fail_and_finish(job, error_codes::upstream_protocol, a.detail);
  }
}

asio::awaitable<void> engine::impl::after_poll(std::shared_ptr<job_run> job, attempt& a) {
  job_state& s = job->state;
  switch (a.kind) {
    case outcome::status: {
      const auto was = s.status;
      if (apply_document(s, a.document, clk.wall_now())) {
        if (s.status != was) spdlog::info("job {}: {} -> {}", s.id, to_string(was), to_string(s.status));
        if (!co_await publish(*job)) co_return finish(*job);
      }
      if (is_terminal(s.status)) co_return finish_when_stored(std::move(job));
      break;
    }
    case outcome::no_news: break;
    case outcome::transient:
      co_return co_await fail_and_finish(job, error_codes::upstream_unreachable,
                                         "the upstream could not be reached: " + a.detail);
    case outcome::accepted:
    case outcome::rejected:
    case outcome::protocol:
      co_return co_await fail_and_finish(job, error_codes::upstream_protocol, a.detail);
  }
  job->hint = a.retry_after;
  sleep(job, job->schedule.next(job->hint));
}

asio::awaitable<void> engine::impl::fail_and_finish(const std::shared_ptr<job_run>& job, std::string_view code,
                                                    std::string message, std::string upstream_json) {
  if (code != error_codes::timeout) spdlog::warn("job {}: failed ({}): {}", job->state.id, code, message);
  fail_job(job->state, code, std::move(message), clk.wall_now(), std::move(upstream_json));
  const bool kept = co_await publish(*job);  // not in the if: GCC 12 miscompiles that here
  if (kept) finish_when_stored(job);
  else finish(*job);
}

// A finished job leaves the engine once its outcome is in the store; while
// the store is unreachable it waits and tries again, so an outage of Redis
// does not lose the outcome (the upstream may have forgotten it by then).
void engine::impl::finish_when_stored(std::shared_ptr<job_run> job) {
  if (!job->unstored || stopped) return finish(*job);
  sleep(std::move(job), milliseconds(1000), /*within_deadline=*/false);
}

// False when the job is gone from the store (canceled) or another replica
// polls it: stop working on it.
asio::awaitable<bool> engine::impl::publish(job_run& job) {
  job.state.version += 1;
  job.state.updated_at = clk.wall_now();
  if (is_terminal(job.state.status) && observer.finished)
    observer.finished(job.state.status,
                      std::chrono::duration<double>(job.state.updated_at - job.state.created_at).count());
  co_return co_await store_state(job);
}

asio::awaitable<bool> engine::impl::store_state(job_run& job) {
  // The result goes into the snapshot's document without a copy in its state.
  std::string result = std::move(job.state.result_json);
  auto snapshot = std::make_shared<const job_snapshot>(job.state, result);
  job.state.result_json = std::move(result);
  auto stored = co_await store.update(std::move(snapshot), job.schedule.current());
  job.unstored = false;
  if (stored) {
    if (!job.state.operation_url.empty()) job.operation_url_stored = true;
  } else {
    if (stored.error() == errc::job_not_found) {
      spdlog::info("job {}: gone from the store; stopping", job.state.id);
      // Deleted before the store had its operation URL (the DELETE found no
      // run to stop), so whoever deleted it could not tell the upstream.
      if (!job.canceled_by_client && !is_terminal(job.state.status) && !job.state.operation_url.empty() &&
          !job.operation_url_stored)
        cancel_upstream(job.state.operation_url);
      co_return false;
    }
    if (stored.error() == errc::lease_lost) {
      spdlog::info("job {}: another replica polls it now; stopping here", job.state.id);
      job.lease_lost = true;
      co_return false;
    }
    if (std::string note; store_warnings.allow(steady::now(), note))
      spdlog::warn("job {}: could not store version {}: {}{}", job.state.id, job.state.version,
                   stored.error().message(), note);
    job.unstored = true;
  }
  co_return true;
}

void engine::impl::sleep(std::shared_ptr<job_run> job, milliseconds delay, bool within_deadline) {
  if (job->done) return;
  // Never past the deadline: a sleeping job times out on time.
  auto at = steady::now() + delay;
  if (within_deadline) at = std::min(at, job->deadline);
  const auto ticket = ++job->wake_ticket;
  sleeping.push(at, wakeup{std::move(job), ticket});
  arm_alarm();
}

void engine::impl::arm_alarm() {
  if (sleeping.empty() || stopped) return;
  const auto ring = ring_time(sleeping.next_due(), alarm_tick);
  if (alarm_at && *alarm_at <= ring) return;  // already rings early enough
  alarm_at = ring;
  alarm.expires_at(ring);  // cancels the earlier wait; its ticket is stale now
  alarm.async_wait([this, ticket = ++alarm_ticket](boost::system::error_code ec) {
    if (ticket != alarm_ticket) return;
    alarm_at.reset();
    if (!ec) wake_due();
  });
}

void engine::impl::wake_due() {
  sleeping.pop_due(steady::now(), [this](wakeup w) {
    if (!w.job->done && w.ticket == w.job->wake_ticket) make_ready(std::move(w.job));
  });
  arm_alarm();
}

// True when this replica was running the job (and so tells the upstream).
bool engine::impl::cancel_local(const std::string& id) {
  auto it = runs.find(id);
  if (it == runs.end()) return false;
  auto job = it->second;
  job->canceled_by_client = true;
  if (job->in_flight) return true;  // the runner finishes it when the call returns
  finish(*job);
  if (!job->state.operation_url.empty()) cancel_upstream(job->state.operation_url);
  return true;
}

void engine::impl::stop_all() {
  std::vector<std::shared_ptr<job_run>> all;
  all.reserve(runs.size());
  for (auto& [id, job] : runs) all.push_back(job);
  // A job with a call out is finished by its runner when the call returns
  // (by upstream.request_timeout_ms at the latest).
  for (auto& job : all)
    if (!job->in_flight) finish(*job);
  ready.clear();
  sleeping.clear();
  alarm.cancel();
  lease_timer.cancel();
  if (!store.shared() || all.empty()) return;
  // Hand the leases back so that another replica carries on now rather than
  // when they lapse; a call still out has its outcome dropped (stopped).
  std::vector<std::string> ids;
  ids.reserve(all.size());
  for (auto& job : all) ids.push_back(job->state.id);
  count->active.fetch_add(1);  // the drain waits for the release
  asio::co_spawn(executor, store.release(std::move(ids)),
                 [c = count](std::exception_ptr) { c->active.fetch_sub(1); });
}

void engine::impl::finish(job_run& job) {
  if (job.done) return;
  job.done = true;
  job.settle_submit();
  count->active.fetch_sub(1);
  count->jobs.fetch_sub(1);
  runs.erase(job.state.id);
}

// Best effort, apart from the job: the outcome is logged by the analyzer.
void engine::impl::cancel_upstream(const std::string& operation_url) {
  asio::co_spawn(executor, analyzer.cancel(operation_url), asio::detached);
}

// Shared stores only. Renews this replica's leases three times per lease
// period (a lease survives one failed renewal) and looks for lapsed jobs
// twice per period, the first time at start-up: a restarted replica resumes
// its own unfinished jobs once their leases lapse.
asio::awaitable<void> engine::impl::keep_leases() {
  const auto period = store.lease_duration();
  const auto renew_every = std::max(milliseconds(50), std::chrono::duration_cast<milliseconds>(period / 3));
  const auto claim_every = std::max(milliseconds(50), std::chrono::duration_cast<milliseconds>(period / 2));
  auto next_claim = steady::now();
  while (!stopped) {
    try {
      if (steady::now() >= next_claim) {
        co_await take_over_lapsed();
        next_claim = steady::now() + claim_every;
      }
      if (stopped) break;
      co_await renew_leases();
    } catch (const std::exception& e) {
      spdlog::error("leases: unexpected error: {}", e.what());
    }
    if (stopped) break;
    lease_timer.expires_after(std::min(renew_every, claim_every));
    boost::system::error_code ec;
    co_await lease_timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  count->active.fetch_sub(1);
}

asio::awaitable<void> engine::impl::renew_leases() {
  if (runs.empty()) co_return;
  std::vector<std::string> ids;
  ids.reserve(runs.size());
  for (const auto& [id, job] : runs) ids.emplace_back(id);
  auto lost = co_await store.renew(std::move(ids));
  if (!lost) co_return;  // Redis unreachable: keep polling; renewals resume with it
  for (const auto& id : *lost) drop_lost(id);
}

// Another replica holds the job now (this one was cut off longer than a
// lease), or it was deleted: stop here without telling the upstream.
void engine::impl::drop_lost(const std::string& id) {
  auto it = runs.find(id);
  if (it == runs.end()) return;
  auto job = it->second;
  spdlog::info("job {}: lease not held any more; stopping here", id);
  job->lease_lost = true;
  if (!job->in_flight) finish(*job);
}

asio::awaitable<void> engine::impl::take_over_lapsed() {
  // Batches of a few hundred, until none is left or this replica is full.
  constexpr std::size_t batch = 256;
  const std::size_t room = options.max_pending_submits > 0 ? options.max_pending_submits : 100000;
  for (int round = 0; round < 64 && !stopped; ++round) {
    auto claimed = co_await store.claim(batch);
    if (!claimed || claimed->empty()) co_return;
    const auto got = claimed->size();
    for (auto& c : *claimed) resume(std::move(c));
    if (got < batch || count->pending_submits.load() >= room) co_return;
  }
}

void engine::impl::resume(store::claimed_job claimed) {
  if (stopped) return;
  job_state s = claimed.job->state();
  if (runs.count(s.id)) return;  // already ours
  const bool submitted = !s.operation_url.empty();
  // The job's deadline counts from its creation, whoever created it.
  const auto left = std::chrono::duration_cast<steady::duration>(
      s.created_at + std::chrono::duration_cast<system_time::duration>(options.max_job_duration) - clk.wall_now());
  std::shared_ptr<counters> counted;
  if (!submitted) {
    count->pending_submits.fetch_add(1);
    counted = count;
  }
  auto job = std::make_shared<job_run>(std::move(s), std::move(claimed.run.request_body), options,
                                       steady::now() + std::max(left, steady::duration::zero()), counted);
  if (claimed.run.next_poll.count() > 0)
    job->schedule = poll_schedule(claimed.run.next_poll, options.poll_backoff, options.poll_max);
  job->submitted = submitted;
  job->operation_url_stored = submitted;
  if (submitted) spdlog::info("job {}: taken over (its poller stopped); polling {}", job->state.id, job->state.operation_url);
  else
    spdlog::warn("job {}: taken over before its submit was answered; submitting it (the upstream may see it twice "
                 "if the first submit reached it)", job->state.id);
  admit(std::move(job));
}

}  // namespace jobrelay::jobs
