#include "jobrelay/store/memory_store.hpp"

#include <cstring>
#include <utility>

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

memory_store::shard& memory_store::shard_for(std::string_view id) {
  return const_cast<shard&>(std::as_const(*this).shard_for(id));
}

const memory_store::shard& memory_store::shard_for(std::string_view id) const {
  // Job ids are random (new_job_id), so their last eight bytes pick a shard
  // as well as a hash of the whole id would, for a load instead of a second
  // hash per operation (the table inside hashes the id anyway). Whatever a
  // client sends instead only chooses the shard it searches in vain.
  std::uint64_t bytes = 0;
  if (id.size() >= sizeof bytes)
    std::memcpy(&bytes, id.data() + id.size() - sizeof bytes, sizeof bytes);
  else
    for (const char c : id) bytes = (bytes << 8) | static_cast<unsigned char>(c);
  // The top bits of a Fibonacci product: every byte has its say.
  return shards_[(bytes * 0x9E3779B97F4A7C15ull) >> (64 - shard_bits)];
}

void memory_store::remove_locked(shard& s, job_table::iterator it) {
  entry& e = it->second;
  if (e.job->terminal()) terminal_order_.erase(e.terminal_pos);
  if (!e.idempotency_key.empty()) keys_.erase(e.idempotency_key);
  stats_.bytes -= e.bytes;
  count(e.job, -1);
  jobs::snapshot_ptr dropped;  // freed after the shard's lock, not under it
  std::lock_guard lock(s.mutex);
  dropped = std::move(e.job);  // under the lock: readers copy it
  s.jobs.erase(it);
}

void memory_store::drop_oldest_terminal_locked() {
  shard& s = shard_for(terminal_order_.front().id);
  remove_locked(s, s.jobs.find(terminal_order_.front().id));
}

std::size_t memory_store::sweep_locked(steady_time now) {
  std::size_t dropped = 0;
  while (!terminal_order_.empty() && terminal_order_.front().expires_at <= now) {
    drop_oldest_terminal_locked();
    ++stats_.expired;
    ++dropped;
  }
  return dropped;
}

void memory_store::evict_over_budget_locked() {
  while (stats_.bytes > options_.max_cache_bytes && !terminal_order_.empty()) {
    drop_oldest_terminal_locked();
    ++stats_.evicted;
  }
}

std::size_t memory_store::sweep_expired() {
  std::lock_guard lock(write_mutex_);
  return sweep_locked(clock_.now());
}

result<insert_outcome> memory_store::insert_now(jobs::snapshot_ptr job,
                                                std::optional<idempotency_claim> claim) {
  std::lock_guard write(write_mutex_);
  const auto now = clock_.now();
  sweep_locked(now);
  if (claim) {
    if (auto k = keys_.find(claim->scoped_key); k != keys_.end()) {
      if (k->second.body_digest != claim->body_digest) return insert_outcome{insert_outcome::kind::conflict, {}};
      const shard& holder = shard_for(k->second.job_id);
      auto existing = holder.jobs.find(k->second.job_id);
      if (existing != holder.jobs.end())
        return insert_outcome{insert_outcome::kind::reused, existing->second.job};
      keys_.erase(k);  // cannot happen: keys leave with their job; be safe anyway
    }
  }
  if (stats_.jobs >= options_.max_jobs) return errc::store_full;
  shard& s = shard_for(job->id());
  entry e{job, job->byte_size(), {}, claim ? claim->scoped_key : std::string()};
  if (job->terminal()) {
    e.expires_at = now + options_.result_ttl;
    e.terminal_pos = terminal_order_.insert(terminal_order_.end(), {e.expires_at, job->id()});
  }
  const std::size_t bytes = e.bytes;
  const auto terminal_pos = e.terminal_pos;
  bool inserted;
  {
    std::lock_guard lock(s.mutex);
    inserted = s.jobs.try_emplace(job->id(), std::move(e)).second;
  }
  if (!inserted) {  // 128-bit ids do not collide; refuse rather than clobber
    if (job->terminal()) terminal_order_.erase(terminal_pos);
    return errc::store_full;
  }
  stats_.bytes += bytes;
  if (claim) keys_.emplace(claim->scoped_key, key_record{job->id(), claim->body_digest});
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
  std::lock_guard write(write_mutex_);
  const auto now = clock_.now();
  sweep_locked(now);
  shard& s = shard_for(job->id());
  auto it = s.jobs.find(job->id());
  if (it == s.jobs.end()) return errc::job_not_found;
  entry& e = it->second;
  // Versions only move forward: a late writer must not undo a newer state.
  if (job->state().version <= e.job->state().version) return {};
  count(e.job, -1);
  count(job, +1);
  stats_.bytes = stats_.bytes - e.bytes + job->byte_size();
  e.bytes = job->byte_size();
  const bool ends_now = job->terminal() && !e.job->terminal();
  const auto expires_at = now + options_.result_ttl;
  if (ends_now)
    e.terminal_pos = terminal_order_.insert(terminal_order_.end(), {expires_at, job->id()});
  jobs::snapshot_ptr replaced;  // freed after the shard's lock, not under it
  {
    std::lock_guard lock(s.mutex);
    if (ends_now) e.expires_at = expires_at;
    replaced = std::exchange(e.job, std::move(job));
  }
  evict_over_budget_locked();
  return {};
}

result<jobs::snapshot_ptr> memory_store::find_now(std::string_view id) const {
  const auto now = clock_.now();
  const shard& s = shard_for(id);
  std::lock_guard lock(s.mutex);
  auto it = s.jobs.find(id);
  if (it == s.jobs.end()) return errc::job_not_found;
  // Expired but not swept yet: already gone for readers.
  if (it->second.expires_at <= now) return errc::job_not_found;
  return it->second.job;
}

result<jobs::snapshot_ptr> memory_store::erase_now(std::string_view id) {
  jobs::snapshot_ptr was;
  {
    std::lock_guard write(write_mutex_);
    shard& s = shard_for(id);
    auto it = s.jobs.find(id);
    if (it == s.jobs.end()) return errc::job_not_found;
    was = it->second.job;
    remove_locked(s, it);
  }
  if (on_change_) on_change_(id);
  return was;
}

store_stats memory_store::stats() const {
  std::lock_guard lock(write_mutex_);
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
