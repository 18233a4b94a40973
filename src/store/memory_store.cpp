#include "jobrelay/store/memory_store.hpp"

namespace jobrelay::store {

memory_store::memory_store(memory_store_options options, const clock& clock)
    : options_(options), clock_(clock) {}

void memory_store::count(const jobs::snapshot_ptr& job, int delta) {
  auto bump = [delta](std::uint64_t& n) { n = static_cast<std::uint64_t>(static_cast<std::int64_t>(n) + delta); };
  bump(stats_.jobs);
  switch (job->status()) {
    case jobs::job_status::queued: bump(stats_.queued); break;
    case jobs::job_status::running: bump(stats_.running); break;
    case jobs::job_status::succeeded: bump(stats_.succeeded); break;
    case jobs::job_status::failed: bump(stats_.failed); break;
  }
}

void memory_store::remove_locked(job_table::iterator it) {
  if (it->second.job->terminal()) terminal_order_.erase(it->second.terminal_pos);
  if (!it->second.idempotency_key.empty()) keys_.erase(it->second.idempotency_key);
  stats_.bytes -= it->second.bytes;
  count(it->second.job, -1);
  jobs_.erase(it);
}

std::size_t memory_store::sweep_locked(steady_time now) {
  std::size_t dropped = 0;
  while (!terminal_order_.empty() && terminal_order_.front().expires_at <= now) {
    auto it = jobs_.find(terminal_order_.front().id);
    remove_locked(it);
    ++stats_.expired;
    ++dropped;
  }
  return dropped;
}

void memory_store::evict_over_budget_locked() {
  while (stats_.bytes > options_.max_cache_bytes && !terminal_order_.empty()) {
    remove_locked(jobs_.find(terminal_order_.front().id));
    ++stats_.evicted;
  }
}

std::size_t memory_store::sweep_expired() {
  std::lock_guard lock(mutex_);
  return sweep_locked(clock_.now());
}

result<insert_outcome> memory_store::insert_now(jobs::snapshot_ptr job,
                                                std::optional<idempotency_claim> claim) {
  std::lock_guard lock(mutex_);
  sweep_locked(clock_.now());
  if (claim) {
    if (auto k = keys_.find(claim->scoped_key); k != keys_.end()) {
      if (k->second.body_digest != claim->body_digest) return insert_outcome{insert_outcome::kind::conflict, {}};
      auto existing = jobs_.find(k->second.job_id);
      if (existing != jobs_.end()) return insert_outcome{insert_outcome::kind::reused, existing->second.job};
      keys_.erase(k);  // cannot happen: keys leave with their job; be safe anyway
    }
  }
  if (jobs_.size() >= options_.max_jobs) return errc::store_full;
  entry e{job, job->byte_size(), {}, claim ? claim->scoped_key : std::string()};
  if (job->terminal()) {
    e.expires_at = clock_.now() + options_.result_ttl;
    e.terminal_pos = terminal_order_.insert(terminal_order_.end(), {e.expires_at, job->id()});
  }
  auto [it, inserted] = jobs_.try_emplace(job->id(), std::move(e));
  if (!inserted) return errc::store_full;  // 128-bit ids do not collide; refuse rather than clobber
  if (claim) keys_.emplace(claim->scoped_key, key_record{job->id(), claim->body_digest});
  stats_.bytes += it->second.bytes;
  count(job, +1);
  evict_over_budget_locked();
  return insert_outcome{insert_outcome::kind::created, std::move(job)};
}

result<void> memory_store::update_now(jobs::snapshot_ptr job) {
  const jobs::snapshot_ptr told = job;  // keeps the id alive for on_change_, without copying it
  auto stored = update_locked(std::move(job));
  if (stored && on_change_) on_change_(told->id());
  return stored;
}

result<void> memory_store::update_locked(jobs::snapshot_ptr job) {
  std::lock_guard lock(mutex_);
  const auto now = clock_.now();
  sweep_locked(now);
  auto it = jobs_.find(job->id());
  if (it == jobs_.end()) return errc::job_not_found;
  entry& e = it->second;
  // Versions only move forward: a late writer must not undo a newer state.
  if (job->state().version <= e.job->state().version) return {};
  count(e.job, -1);
  count(job, +1);
  stats_.bytes = stats_.bytes - e.bytes + job->byte_size();
  e.bytes = job->byte_size();
  if (job->terminal() && !e.job->terminal()) {
    e.expires_at = now + options_.result_ttl;
    e.terminal_pos = terminal_order_.insert(terminal_order_.end(), {e.expires_at, job->id()});
  }
  e.job = std::move(job);
  evict_over_budget_locked();
  return {};
}

result<jobs::snapshot_ptr> memory_store::find_now(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return errc::job_not_found;
  // Expired but not swept yet: already gone for readers.
  if (it->second.expires_at <= clock_.now()) return errc::job_not_found;
  return it->second.job;
}

result<jobs::snapshot_ptr> memory_store::erase_now(std::string_view id) {
  jobs::snapshot_ptr was;
  {
    std::lock_guard lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return errc::job_not_found;
    was = it->second.job;
    remove_locked(it);
  }
  if (on_change_) on_change_(id);
  return was;
}

store_stats memory_store::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

boost::asio::awaitable<result<insert_outcome>> memory_store::insert(
    jobs::snapshot_ptr job, std::optional<idempotency_claim> claim, run_record) {
  co_return insert_now(std::move(job), std::move(claim));
}
boost::asio::awaitable<result<void>> memory_store::update(jobs::snapshot_ptr job,
                                                         std::chrono::milliseconds) {
  co_return update_now(std::move(job));
}
boost::asio::awaitable<result<jobs::snapshot_ptr>> memory_store::find(std::string_view id) {
  co_return find_now(id);
}
boost::asio::awaitable<result<jobs::snapshot_ptr>> memory_store::erase(std::string_view id) {
  co_return erase_now(id);
}
boost::asio::awaitable<void> memory_store::maintain() {
  sweep_expired();
  co_return;
}

}  // namespace jobrelay::store
