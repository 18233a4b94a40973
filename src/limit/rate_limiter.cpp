#include "jobrelay/limit/rate_limiter.hpp"

#include <algorithm>
#include <functional>

namespace jobrelay::limit {

// Buckets in least-recently-used order (front = newest), so both the lazy
// sweep and eviction start from the back in O(1) per bucket dropped. The map
// keys view the strings stored in the list nodes, which never move.
struct rate_limiter::shard {
  struct entry {
    std::string client_id;
    token_bucket bucket;
  };
  mutable std::mutex mutex;
  std::list<entry> lru;
  std::unordered_map<std::string_view, std::list<entry>::iterator> index;

  void erase(std::list<entry>::iterator it) {
    index.erase(it->client_id);
    lru.erase(it);
  }

  // The back bucket was touched longest ago; once it is not yet full, younger
  // ones usually are not either, so stopping there keeps inserts O(1)
  // amortized. sweep_all catches the rest.
  void sweep_back(steady_time now, const rate_spec& spec) {
    while (!lru.empty() && lru.back().bucket.full_at(spec) <= now) erase(std::prev(lru.end()));
  }

  std::size_t sweep_all(steady_time now, const rate_spec& spec) {
    std::size_t dropped = 0;
    for (auto it = lru.begin(); it != lru.end();) {
      auto next = std::next(it);
      if (it->bucket.full_at(spec) <= now) {
        erase(it);
        ++dropped;
      }
      it = next;
    }
    return dropped;
  }
};

rate_limiter::rate_limiter(rate_spec spec, const clock& clk) : rate_limiter(spec, clk, options{}) {}

rate_limiter::rate_limiter(rate_spec spec, const clock& clk, options opts)
    : spec_(spec), clock_(clk) {
  const std::size_t n = std::max<std::size_t>(opts.shards, 1);
  // Rounded up so a tiny cap still leaves every shard room for one bucket.
  cap_per_shard_ = std::max<std::size_t>((opts.max_entries + n - 1) / n, 1);
  sweep_threshold_ =
      std::min(std::max<std::size_t>(opts.sweep_threshold_per_shard, 1), cap_per_shard_);
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<shard>());
}

rate_limiter::~rate_limiter() = default;

rate_limiter::shard& rate_limiter::shard_for(std::string_view client_id) {
  return *shards_[std::hash<std::string_view>{}(client_id) % shards_.size()];
}

decision rate_limiter::check(std::string_view client_id) {
  if (!spec_.enabled()) return decision{};

  const steady_time now = clock_.now();
  shard& s = shard_for(client_id);
  take_result r;
  {
    std::lock_guard lock(s.mutex);
    auto found = s.index.find(client_id);
    if (found != s.index.end()) {
      s.lru.splice(s.lru.begin(), s.lru, found->second);  // now the newest
      r = found->second->bucket.try_take(now, spec_);
    } else {
      if (s.index.size() >= sweep_threshold_) s.sweep_back(now, spec_);
      while (s.index.size() >= cap_per_shard_) s.erase(std::prev(s.lru.end()));
      s.lru.push_front({std::string(client_id), token_bucket::full(spec_, now)});
      s.index.emplace(s.lru.front().client_id, s.lru.begin());
      r = s.lru.front().bucket.try_take(now, spec_);
    }
  }
  return decide(spec_, r);
}

std::size_t rate_limiter::sweep() {
  if (!spec_.enabled()) return 0;
  const steady_time now = clock_.now();
  std::size_t dropped = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    dropped += s->sweep_all(now, spec_);
  }
  return dropped;
}

std::size_t rate_limiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mutex);
    n += s->index.size();
  }
  return n;
}

}  // namespace jobrelay::limit
