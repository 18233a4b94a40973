// The single-replica results store: hash maps of snapshots plus a list of
// terminal jobs in the order they ended. Because every terminal job gets the
// same TTL, that list is also the expiry order and the oldest-first eviction
// order: expiry and eviction pop from its front, never scan the maps.
//
// Reads take no global lock: the jobs are spread over shards by id, a read
// locks only its shard, and writes (far fewer: a job changes a handful of
// times, clients poll it many) go one at a time under the write lock, which
// also guards the terminal list, the idempotency keys and the counts. One
// lock for everything let two threads reading different jobs do a fifth
// of what one thread did alone (bench/README.md, "The store's locks").
#pragma once

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "jobrelay/clock.hpp"
#include "jobrelay/store/results_store.hpp"
#include "jobrelay/string_table.hpp"

namespace jobrelay::store {

struct memory_store_options {
  std::uint64_t max_jobs = 100000;
  std::uint64_t max_cache_bytes = 1073741824;
  std::chrono::seconds result_ttl{3600};
};

class memory_store final : public results_store {
 public:
  memory_store(memory_store_options options, const clock& clock);

  boost::asio::awaitable<result<insert_outcome>> insert(
      jobs::snapshot_ptr job, std::optional<idempotency_claim> claim = std::nullopt,
      run_record run = {}) override;
  boost::asio::awaitable<result<void>> update(jobs::snapshot_ptr job,
                                              std::chrono::milliseconds next_poll = {}) override;
  boost::asio::awaitable<result<jobs::snapshot_ptr>> find(std::string_view id) override;
  std::optional<result<jobs::snapshot_ptr>> find_at_once(std::string_view id) const override {
    return find_now(id);
  }
  boost::asio::awaitable<result<jobs::snapshot_ptr>> erase(std::string_view id) override;
  store_stats stats() const override;
  boost::asio::awaitable<void> maintain() override;

  // The same operations without a coroutine frame; the awaitable ones call
  // these. Public for unit tests and for callers that know the store is local.
  result<insert_outcome> insert_now(jobs::snapshot_ptr job,
                                    std::optional<idempotency_claim> claim = std::nullopt);
  result<void> update_now(jobs::snapshot_ptr job);
  result<jobs::snapshot_ptr> find_now(std::string_view id) const;
  result<jobs::snapshot_ptr> erase_now(std::string_view id);

  // Called after a job changed or went away (outside the lock), so waiters
  // can be woken. Set once, before use.
  void on_change(std::function<void(std::string_view id)> hook) { on_change_ = std::move(hook); }

  // Drops terminal jobs whose TTL has passed; cheap when nothing is due.
  // Called by a periodic timer and on every write.
  std::size_t sweep_expired();

 private:
  struct terminal_mark {
    steady_time expires_at;
    std::string id;
  };
  using terminal_list = std::list<terminal_mark>;
  // Looked up by string_view without building a std::string per request.
  template <typename Value>
  using by_id = string_table<Value>;
  struct entry {
    jobs::snapshot_ptr job;
    std::size_t bytes = 0;
    terminal_list::iterator terminal_pos;  // valid only when job->terminal()
    std::string idempotency_key;           // scoped key that points here, if any
    // A copy of the terminal mark's time, so a read checks expiry without
    // touching the list node (or the snapshot): max() while running.
    steady_time expires_at = steady_time::max();
  };
  struct key_record {
    std::string job_id;
    std::string body_digest;
  };

  result<void> update_locked(jobs::snapshot_ptr job);
  void count(const jobs::snapshot_ptr& job, int delta);
  // Open addressing: a lookup reads a group of slot tags and one slot, where
  // a node-based map walks bucket, previous node and node, each a cache (and
  // in a VM, TLB) miss on a table of 10,000 jobs: perf of bench D put the
  // store's lookups at 4.8% of the server's CPU with std::unordered_map and
  // 1.4% with this. No iterator or reference into it outlives an insert.
  using job_table = boost::unordered_flat_map<std::string, entry, string_hash, std::equal_to<>>;
  // A shard's table changes only under both the write lock and its own
  // mutex, so a writer may read it holding the write lock alone, and a
  // reader holding the shard's mutex alone. Aligned to cache lines, so
  // readers of neighbouring shards do not share one.
  struct alignas(64) shard {
    mutable std::mutex mutex;
    job_table jobs;
  };
  static constexpr std::size_t shard_bits = 6;
  shard& shard_for(std::string_view id);
  const shard& shard_for(std::string_view id) const;

  // The _locked functions run under write_mutex_.
  void remove_locked(shard& s, job_table::iterator it);
  std::size_t sweep_locked(steady_time now);
  void evict_over_budget_locked();
  void drop_oldest_terminal_locked();

  memory_store_options options_;
  const clock& clock_;
  mutable std::mutex write_mutex_;
  std::array<shard, std::size_t{1} << shard_bits> shards_;
  by_id<key_record> keys_;
  std::function<void(std::string_view)> on_change_;
  terminal_list terminal_order_;
  store_stats stats_;
};

}  // namespace jobrelay::store
