#include "jobrelay/store/redis_store.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include "jobrelay/jobs/job_snapshot.hpp"
#include "jobrelay/redis/client.hpp"
#include "jobrelay/store/job_record.hpp"

// Layout, under the key prefix (default "jobrelay:"):
//   job:<id>         hash: m = meta JSON (job_record.hpp), r = result JSON,
//                    b = request body until the upstream has it. PEXPIRE:
//                    result_ttl once terminal; max_job_duration + result_ttl
//                    before, so a job nobody finishes still goes away.
//   lease:<id>       the replica polling the job; PX lease.
//   active           zset of unfinished jobs, score = when their lease lapses
//                    (ms, Redis' clock): where takeover looks.
//   done:succeeded,  zsets of terminal jobs, score = when they expire: the
//   done:failed      job count for max_jobs and /stats without a SCAN.
//   idem:<key>       "<job id>\n<body digest>" of an Idempotency-Key.
//   changes          pub/sub channel; message = id of a changed job.
// All times inside scripts come from Redis' TIME, so replicas' clocks never
// have to agree.

namespace jobrelay::store {
namespace asio = boost::asio;
using namespace std::chrono;

namespace {

constexpr const char* now_ms_lua =
    "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) ";

// KEYS: job, lease, active, done:succeeded, done:failed, idem
// ARGV: id, meta, body, replica, lease_ms, job_ttl_ms, max_jobs, idem_value,
//       job key prefix, body digest, result, status
// The idempotency key lives as long as its job (job_ttl_ms).
// A job inserted unfinished is leased to this replica; one inserted
// terminal (not the engine's way, but part of the contract) is nobody's.
const redis::script& insert_script() {
  static const redis::script s(std::string(now_ms_lua) + R"(
if ARGV[8] ~= '' then
  local v = redis.call('GET', KEYS[6])
  if v then
    local sep = string.find(v, '\n', 1, true)
    if sep then
      local rec = redis.call('HMGET', ARGV[9] .. string.sub(v, 1, sep - 1), 'm', 'r')
      if rec[1] then
        if string.sub(v, sep + 1) == ARGV[10] then return {'reused', rec[1], rec[2] or ''} end
        return {'conflict'}
      end
    end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local max = tonumber(ARGV[7])
if max > 0 and redis.call('ZCARD', KEYS[3]) + redis.call('ZCARD', KEYS[4]) + redis.call('ZCARD', KEYS[5]) >= max then
  return {'full'}
end
redis.call('HSET', KEYS[1], 'm', ARGV[2], 'b', ARGV[3])
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[11]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[12] == 'succeeded' then
  redis.call('ZADD', KEYS[4], now + tonumber(ARGV[6]), ARGV[1])
elseif ARGV[12] == 'failed' then
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[6]), ARGV[1])
else
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[1])
end
if ARGV[8] ~= '' then redis.call('SET', KEYS[6], ARGV[8], 'PX', ARGV[6]) end
return {'created'}
)");
  return s;
}

// KEYS: job, lease, active, done:succeeded, done:failed
// ARGV: id, meta, result, replica, lease_ms, status, ttl_ms, channel, drop_body
// 'lost': another replica holds the lease; 'gone': deleted or expired.
const redis::script& update_script() {
  static const redis::script s(std::string(now_ms_lua) + R"(
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[4] then return 'lost' end
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
redis.call('HSET', KEYS[1], 'm', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'r', ARGV[3]) end
if ARGV[9] == '1' then redis.call('HDEL', KEYS[1], 'b') end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
if ARGV[6] == 'succeeded' or ARGV[6] == 'failed' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  local done = KEYS[5]
  if ARGV[6] == 'succeeded' then done = KEYS[4] end
  redis.call('ZADD', done, now + tonumber(ARGV[7]), ARGV[1])
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[1])
end
redis.call('PUBLISH', ARGV[8], ARGV[1])
return 'ok'
)");
  return s;
}

// KEYS: active. ARGV: replica, lease_ms, lease key prefix, ids...
// Returns the ids whose lease this replica no longer holds. A lapsed lease
// nobody took over is taken back.
const redis::script& renew_script() {
  static const redis::script s(std::string(now_ms_lua) + R"(
local lost = {}
for i = 4, #ARGV do
  local k = ARGV[3] .. ARGV[i]
  local h = redis.call('GET', k)
  if h == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i])
  elseif (not h) and redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i])
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
)");
  return s;
}

// KEYS: active. ARGV: replica, lease_ms, max, job key prefix, lease key prefix.
// Returns {meta, result, body} of each job taken over.
const redis::script& claim_script() {
  static const redis::script s(std::string(now_ms_lua) + R"(
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local rec = redis.call('HMGET', ARGV[4] .. id, 'm', 'r', 'b')
  if not rec[1] then
    redis.call('ZREM', KEYS[1], id)
  else
    local lk = ARGV[5] .. id
    if redis.call('SET', lk, ARGV[1], 'NX', 'PX', ARGV[2]) then
      redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
      out[#out + 1] = {rec[1], rec[2] or '', rec[3] or ''}
    else
      local ttl = redis.call('PTTL', lk)
      if ttl < 0 then ttl = tonumber(ARGV[2]) end
      redis.call('ZADD', KEYS[1], now + ttl, id)
    end
  end
end
return out
)");
  return s;
}

// KEYS: active. ARGV: replica, lease key prefix, ids...
const redis::script& release_script() {
  static const redis::script s(R"(
for i = 3, #ARGV do
  local k = ARGV[2] .. ARGV[i]
  if redis.call('GET', k) == ARGV[1] then
    redis.call('DEL', k)
    redis.call('ZADD', KEYS[1], 'XX', 0, ARGV[i])
  end
end
return 0
)");
  return s;
}

// KEYS: job, lease, active, done:succeeded, done:failed. ARGV: id, channel.
// Returns the job's meta, or nil when there was none.
const redis::script& erase_script() {
  static const redis::script s(R"(
local rec = redis.call('HMGET', KEYS[1], 'm', 'r')
if not rec[1] then return false end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return {rec[1], rec[2] or ''}
)");
  return s;
}

// KEYS: active, done:succeeded, done:failed. Returns {active, succeeded,
// failed, expired now}.
const redis::script& stats_script() {
  static const redis::script s(std::string(now_ms_lua) + R"(
local gone = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) + redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
return {redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]), gone}
)");
  return s;
}

std::string ms(milliseconds d) { return std::to_string(d.count()); }

bool is_string(const redis::reply& r) {
  return r.type == redis::reply::kind::string || r.type == redis::reply::kind::status;
}

// A reply the scripts cannot give: Redis answered with an error (out of
// memory, a script bug) or the call failed. Logged once here; the caller
// sees store_unavailable.
boost::system::error_code unusable(std::string_view what, const result<redis::reply>& r) {
  if (!r) {
    if (r.error() == errc::shutting_down) return errc::shutting_down;
    return errc::store_unavailable;
  }
  spdlog::warn("redis {}: unexpected answer: {}", what,
               r->is_error() ? r->str : std::string("type ") + std::to_string(int(r->type)));
  return errc::store_unavailable;
}

// A stored record (its m and r fields) back into a job.
result<decoded_job> decode_record(const redis::reply& meta, const redis::reply& result_json) {
  if (!is_string(meta)) return errc::store_unavailable;
  auto decoded = decode_job(meta.str, is_string(result_json) ? std::string_view(result_json.str) : "");
  if (!decoded) spdlog::warn("redis: a job record could not be read; treated as unavailable");
  return decoded;
}

result<jobs::snapshot_ptr> snapshot_from(const redis::reply& meta, const redis::reply& result_json) {
  auto decoded = decode_record(meta, result_json);
  if (!decoded) return decoded.error();
  return std::make_shared<const jobs::job_snapshot>(std::move(decoded->state));
}

// Lease scripts take ids in bounded batches: one script call must not stall
// Redis for long. `head` and then ids [at, at + lease_batch).
constexpr std::size_t lease_batch = 500;
std::vector<std::string> batch_args(std::vector<std::string> head, const std::vector<std::string>& ids,
                                    std::size_t at) {
  const auto end = std::min(ids.size(), at + lease_batch);
  head.insert(head.end(), ids.begin() + static_cast<std::ptrdiff_t>(at),
              ids.begin() + static_cast<std::ptrdiff_t>(end));
  return head;
}

// A job's TTL in Redis: terminal jobs live result_ttl; others as long as
// they may still run plus result_ttl, refreshed by every update.
milliseconds ttl_for(const jobs::job_snapshot& job, const redis_store_options& o) {
  if (job.terminal()) return duration_cast<milliseconds>(o.result_ttl);
  return duration_cast<milliseconds>(o.result_ttl + o.max_job_duration);
}

}  // namespace

std::string make_replica_id() {
  std::array<unsigned char, 6> bits{};
  RAND_bytes(bits.data(), static_cast<int>(bits.size()));
  char host[64] = {};
  gethostname(host, sizeof host - 1);
  std::string id = std::string(host) + ":" + std::to_string(getpid()) + ":";
  char hex[3];
  for (auto b : bits) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    id += hex;
  }
  return id;
}

redis_store::redis_store(redis::client& client, redis::subscriber& changes, redis_store_options options)
    : client_(client), changes_(changes), options_(std::move(options)), channel_(options_.key_prefix + "changes") {
  if (options_.replica_id.empty()) options_.replica_id = make_replica_id();
}

redis_store::~redis_store() = default;

void redis_store::start() {
  changes_.on_message([this](std::string_view, std::string_view id) {
    forget(id);
    if (on_change_) on_change_(id);
  });
  changes_.on_up([this] {
    forget_all();  // messages may have been missed while the subscription was down
    if (on_missed_) on_missed_();
  });
  changes_.start({channel_});
}

jobs::snapshot_ptr redis_store::cached(std::string_view id, std::uint64_t& generation) {
  std::lock_guard lock(cache_mutex_);
  generation = generation_;
  auto it = cache_.find(id);
  if (it == cache_.end()) return nullptr;
  if (it->second.expires_at <= std::chrono::steady_clock::now()) return nullptr;
  return it->second.job;
}

void redis_store::keep(const jobs::snapshot_ptr& job, std::uint64_t generation_at_read) {
  // Only finished jobs (they change no more), and only while change messages
  // arrive: without them a DELETE elsewhere would go unnoticed.
  if (!job->terminal() || !job->state().finished_at || !changes_.connected()) return;
  const auto size = job->byte_size();
  if (size > options_.max_cache_bytes) return;
  std::lock_guard lock(cache_mutex_);
  if (generation_at_read < stamps_floor_) return;
  if (auto s = changed_at_.find(job->id()); s != changed_at_.end() && s->second > generation_at_read) return;
  if (cache_.count(job->id())) return;
  while (cache_bytes_ + size > options_.max_cache_bytes && !cache_order_.empty())
    drop_locked(cache_.find(cache_order_.front()));
  // Redis expires the job result_ttl after it finished; the cache no later,
  // counted on this replica's steady clock (the writer's wall clock may differ).
  const auto age = std::max(std::chrono::system_clock::duration::zero(),
                            std::chrono::system_clock::now() - *job->state().finished_at);
  const auto left = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::max(std::chrono::system_clock::duration::zero(),
               std::chrono::duration_cast<std::chrono::system_clock::duration>(options_.result_ttl) - age));
  const auto expires = std::chrono::steady_clock::now() + left;
  auto order = cache_order_.insert(cache_order_.end(), job->id());
  cache_.emplace(job->id(), cache_entry{job, expires, order});
  cache_bytes_ += size;
}

void redis_store::forget(std::string_view id) {
  std::lock_guard lock(cache_mutex_);
  std::string key(id);
  changed_at_[key] = ++generation_;
  if (changed_at_.size() > 65536) {  // bounded: reads older than now may no longer cache
    changed_at_.clear();
    stamps_floor_ = generation_;
  }
  if (auto it = cache_.find(key); it != cache_.end()) drop_locked(it);
}

void redis_store::drop_locked(string_table<cache_entry>::iterator it) {
  cache_bytes_ -= it->second.job->byte_size();
  cache_order_.erase(it->second.order);
  cache_.erase(it);
}

void redis_store::forget_all() {
  std::lock_guard lock(cache_mutex_);
  cache_.clear();
  cache_order_.clear();
  cache_bytes_ = 0;
  changed_at_.clear();
  stamps_floor_ = ++generation_;
}

std::string redis_store::job_key(std::string_view id) const {
  return options_.key_prefix + "job:" + std::string(id);
}
std::string redis_store::lease_key(std::string_view id) const {
  return options_.key_prefix + "lease:" + std::string(id);
}
// KEYS[1..5] of the insert, update and erase scripts.
std::vector<std::string> redis_store::job_keys(std::string_view id) const {
  const auto& p = options_.key_prefix;
  return {job_key(id), lease_key(id), p + "active", p + "done:succeeded", p + "done:failed"};
}

bool redis_store::available() const { return client_.connected(); }

asio::awaitable<result<insert_outcome>> redis_store::insert(jobs::snapshot_ptr job,
                                                            std::optional<idempotency_claim> claim,
                                                            run_record run) {
  const auto& p = options_.key_prefix;
  const std::string& id = job->id();
  const auto job_ttl = ttl_for(*job, options_);
  auto keys = job_keys(id);
  keys.push_back(claim ? p + "idem:" + claim->scoped_key : p + "idem:");
  std::vector<std::string> args{id,
                                encode_meta(job->state(), run.next_poll),
                                std::move(run.request_body),
                                options_.replica_id,
                                ms(options_.lease),
                                ms(job_ttl),
                                std::to_string(options_.max_jobs),
                                claim ? id + "\n" + claim->body_digest : std::string(),
                                p + "job:",
                                claim ? claim->body_digest : std::string(),
                                std::string(job->result_json()),
                                std::string(jobs::to_string(job->status()))};
  auto r = co_await client_.eval(insert_script(), std::move(keys), std::move(args));
  if (!r || r->type != redis::reply::kind::array || r->elements.empty() || !is_string(r->elements[0]))
    co_return unusable("insert", r);
  const std::string& what = r->elements[0].str;
  if (what == "created") co_return insert_outcome{insert_outcome::kind::created, std::move(job)};
  if (what == "conflict") co_return insert_outcome{insert_outcome::kind::conflict, {}};
  if (what == "full") co_return errc::store_full;
  if (what == "reused" && r->elements.size() == 3) {
    auto found = snapshot_from(r->elements[1], r->elements[2]);
    if (!found) co_return found.error();
    co_return insert_outcome{insert_outcome::kind::reused, std::move(*found)};
  }
  co_return unusable("insert", r);
}

asio::awaitable<result<void>> redis_store::update(jobs::snapshot_ptr job, milliseconds next_poll) {
  const std::string& id = job->id();
  const auto status = job->status();
  auto keys = job_keys(id);
  std::vector<std::string> args{id,
                                encode_meta(job->state(), next_poll),
                                std::string(job->result_json()),
                                options_.replica_id,
                                ms(options_.lease),
                                std::string(jobs::to_string(status)),
                                ms(ttl_for(*job, options_)),
                                channel_,
                                status == jobs::job_status::queued ? "0" : "1"};
  auto r = co_await client_.eval(update_script(), std::move(keys), std::move(args));
  if (!r || !is_string(*r)) co_return unusable("update", r);
  if (r->str == "lost") co_return errc::lease_lost;
  if (r->str == "gone") co_return errc::job_not_found;
  if (r->str != "ok") co_return unusable("update", r);
  // Waiters on this replica need not wait for the message to come back.
  if (on_change_) on_change_(id);
  co_return result<void>{};
}

asio::awaitable<result<jobs::snapshot_ptr>> redis_store::find(std::string_view id) {
  std::uint64_t generation = 0;
  if (auto hit = cached(id, generation); hit && changes_.connected()) co_return hit;
  // Named, not a braced temporary: GCC 12 mishandles the latter in co_await.
  redis::command cmd{"HMGET", job_key(id), "m", "r"};
  auto r = co_await client_.execute(std::move(cmd));
  if (!r || r->type != redis::reply::kind::array || r->elements.size() != 2) co_return unusable("find", r);
  if (r->elements[0].is_nil()) co_return errc::job_not_found;
  auto found = snapshot_from(r->elements[0], r->elements[1]);
  if (found) keep(*found, generation);
  co_return found;
}

asio::awaitable<result<jobs::snapshot_ptr>> redis_store::erase(std::string_view id) {
  auto keys = job_keys(id);
  std::vector<std::string> args{std::string(id), channel_};
  auto r = co_await client_.eval(erase_script(), std::move(keys), std::move(args));
  if (r && r->is_nil()) co_return errc::job_not_found;
  if (!r || r->type != redis::reply::kind::array || r->elements.size() != 2) co_return unusable("erase", r);
  auto was = snapshot_from(r->elements[0], r->elements[1]);
  forget(id);
  if (on_change_) on_change_(id);
  co_return was;
}

store_stats redis_store::stats() const {
  store_stats st;
  {
    std::lock_guard lock(stats_mutex_);
    st = stats_;
  }
  std::lock_guard lock(cache_mutex_);
  st.bytes = cache_bytes_;  // what this replica holds; Redis' own memory is Redis' to report
  return st;
}

asio::awaitable<void> redis_store::maintain() {
  const auto& p = options_.key_prefix;
  std::vector<std::string> keys{p + "active", p + "done:succeeded", p + "done:failed"};
  auto r = co_await client_.eval(stats_script(), std::move(keys), {});
  if (!r || r->type != redis::reply::kind::array || r->elements.size() != 4) co_return;
  const auto n = [&](std::size_t i) { return static_cast<std::uint64_t>(std::max(0LL, r->elements[i].integer)); };
  std::lock_guard lock(stats_mutex_);
  // Unfinished jobs are counted as running: the active set does not tell
  // queued from running, and a job is queued only until its submit returns.
  stats_.running = n(0);
  stats_.queued = 0;
  stats_.succeeded = n(1);
  stats_.failed = n(2);
  stats_.jobs = n(0) + n(1) + n(2);
  stats_.expired += n(3);
}

asio::awaitable<result<std::vector<std::string>>> redis_store::renew(std::vector<std::string> ids) {
  std::vector<std::string> lost;
  for (std::size_t at = 0; at < ids.size(); at += lease_batch) {
    auto args = batch_args({options_.replica_id, ms(options_.lease), options_.key_prefix + "lease:"}, ids, at);
    std::vector<std::string> keys{options_.key_prefix + "active"};
    auto r = co_await client_.eval(renew_script(), std::move(keys), std::move(args));
    if (!r || r->type != redis::reply::kind::array) co_return unusable("renew", r);
    for (auto& e : r->elements)
      if (is_string(e)) lost.push_back(std::move(e.str));
  }
  co_return lost;
}

asio::awaitable<result<std::vector<claimed_job>>> redis_store::claim(std::size_t max) {
  const auto& p = options_.key_prefix;
  std::vector<std::string> keys{p + "active"};
  std::vector<std::string> args{options_.replica_id, ms(options_.lease), std::to_string(max), p + "job:",
                                p + "lease:"};
  auto r = co_await client_.eval(claim_script(), std::move(keys), std::move(args));
  if (!r || r->type != redis::reply::kind::array) co_return unusable("claim", r);
  std::vector<claimed_job> out;
  for (const auto& e : r->elements) {
    if (e.type != redis::reply::kind::array || e.elements.size() != 3) continue;
    auto decoded = decode_record(e.elements[0], e.elements[1]);
    if (!decoded) continue;  // logged; its lease lapses again and it stays where it is
    claimed_job c;
    c.run.next_poll = decoded->next_poll;
    if (is_string(e.elements[2])) c.run.request_body = e.elements[2].str;
    c.job = std::make_shared<const jobs::job_snapshot>(std::move(decoded->state));
    out.push_back(std::move(c));
  }
  co_return out;
}

asio::awaitable<void> redis_store::release(std::vector<std::string> ids) {
  for (std::size_t at = 0; at < ids.size(); at += lease_batch) {
    auto args = batch_args({options_.replica_id, options_.key_prefix + "lease:"}, ids, at);
    std::vector<std::string> keys{options_.key_prefix + "active"};
    auto r = co_await client_.eval(release_script(), std::move(keys), std::move(args));
    if (!r) co_return;
  }
}

}  // namespace jobrelay::store
