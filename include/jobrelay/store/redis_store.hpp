// The results store that replicas share, in Redis: every replica sees every
// job, expiry is Redis' own TTLs, changes are PUBLISHed so that long polls and
// event streams on any replica wake, and each unfinished job carries a lease
// (SET NX PX, renewed by a compare-and-set script) naming the one replica
// that polls it upstream. Each operation is one Lua script or one command, so
// replicas never see a half-written job. Layout and scripts: redis_store.cpp.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "jobrelay/store/results_store.hpp"
#include "jobrelay/string_table.hpp"

namespace jobrelay::redis {
class client;
class subscriber;
}  // namespace jobrelay::redis

namespace jobrelay::store {

struct redis_store_options {
  std::uint64_t max_jobs = 100000;  // across all replicas
  std::chrono::seconds result_ttl{3600};
  std::chrono::seconds max_job_duration{300};
  std::chrono::milliseconds lease{10000};
  // Finished jobs read from Redis are kept in this replica's memory, up to
  // this many bytes (limits.max_cache_bytes), so polls of a finished job cost
  // no round trip. Dropped on the job's change message (a DELETE anywhere).
  std::uint64_t max_cache_bytes = 1073741824;
  std::string replica_id;            // unique per process
  std::string key_prefix = "jobrelay:";
};

class redis_store final : public results_store {
 public:
  // `changes` is this replica's one subscription; the store subscribes it to
  // its change channel. Both must outlive the store.
  redis_store(redis::client& client, redis::subscriber& changes, redis_store_options options);
  ~redis_store() override;

  boost::asio::awaitable<result<insert_outcome>> insert(
      jobs::snapshot_ptr job, std::optional<idempotency_claim> claim = std::nullopt,
      run_record run = {}) override;
  boost::asio::awaitable<result<void>> update(jobs::snapshot_ptr job,
                                              std::chrono::milliseconds next_poll = {}) override;
  boost::asio::awaitable<result<jobs::snapshot_ptr>> find(std::string_view id) override;
  boost::asio::awaitable<result<jobs::snapshot_ptr>> erase(std::string_view id) override;
  store_stats stats() const override;
  bool available() const override;
  boost::asio::awaitable<void> maintain() override;

  bool shared() const override { return true; }
  std::chrono::milliseconds lease_duration() const override { return options_.lease; }
  boost::asio::awaitable<result<std::vector<std::string>>> renew(std::vector<std::string> ids) override;
  boost::asio::awaitable<result<std::vector<claimed_job>>> claim(std::size_t max) override;
  boost::asio::awaitable<void> release(std::vector<std::string> ids) override;

  // A job changed (here or on another replica): wake its waiters. Set once,
  // before use.
  void on_change(std::function<void(std::string_view id)> hook) { on_change_ = std::move(hook); }
  // Changes may have been missed (the subscription was down): wake everyone
  // to read again.
  void on_missed_changes(std::function<void()> hook) { on_missed_ = std::move(hook); }

  // Starts the change subscription.
  void start();

  const std::string& change_channel() const { return channel_; }

 private:
  std::string job_key(std::string_view id) const;
  std::string lease_key(std::string_view id) const;
  std::vector<std::string> job_keys(std::string_view id) const;

  // The local cache of finished jobs.
  jobs::snapshot_ptr cached(std::string_view id, std::uint64_t& generation);
  void keep(const jobs::snapshot_ptr& job, std::uint64_t generation_at_read);
  void forget(std::string_view id);
  void forget_all();
  struct cache_entry {
    jobs::snapshot_ptr job;
    steady_time expires_at;
    std::list<std::string>::iterator order;
  };
  void drop_locked(string_table<cache_entry>::iterator it);

  redis::client& client_;
  redis::subscriber& changes_;
  redis_store_options options_;
  std::string channel_;
  std::function<void(std::string_view)> on_change_;
  std::function<void()> on_missed_;
  mutable std::mutex stats_mutex_;
  store_stats stats_;

  mutable std::mutex cache_mutex_;
  string_table<cache_entry> cache_;
  std::list<std::string> cache_order_;  // oldest first: what goes when over budget
  std::uint64_t cache_bytes_ = 0;
  // A read that started before a job's latest change message must not cache
  // what it read: each message bumps the generation and stamps the job.
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, std::uint64_t> changed_at_;  // recent stamps, bounded
  std::uint64_t stamps_floor_ = 0;  // stamps older than this were dropped
};

// A replica id that no other process shares: host, pid and random bits.
std::string make_replica_id();

}  // namespace jobrelay::store
