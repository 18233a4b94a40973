#include "jobrelay/limit/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

namespace jobrelay::limit {

rate_limiter::rate_limiter(rate_spec spec, const clock& clock, std::size_t max_clients)
    : spec_(spec), clock_(clock), max_per_shard_(std::max<std::size_t>(1, max_clients / shard_count)) {}

rate_limiter::shard& rate_limiter::shard_for(std::string_view client) {
  return shards_[std::hash<std::string_view>{}(client) % shard_count];
}

void rate_limiter::sweep_locked(shard& s, steady_time now) {
  std::erase_if(s.buckets, [&](const auto& kv) { return kv.second.idle(spec_, now); });
}

decision rate_limiter::check(std::string_view client) {
  decision d;
  if (!spec_.enabled()) return d;
  const auto now = clock_.now();
  auto& s = shard_for(client);
  bucket_decision b;
  {
    std::lock_guard lock(s.mutex);
    auto it = s.buckets.find(std::string(client));
    if (it == s.buckets.end()) {
      if (s.buckets.size() >= max_per_shard_) {
        sweep_locked(s, now);
        if (s.buckets.size() >= max_per_shard_) {
          // A spray of addresses: forget the stalest client. It only gains a
          // fresh burst, which is what it would have after idling anyway.
          auto stalest = std::min_element(s.buckets.begin(), s.buckets.end(), [](auto& a, auto& b) {
            return a.second.updated < b.second.updated;
          });
          s.buckets.erase(stalest);
        }
      }
      it = s.buckets.emplace(std::string(client), token_bucket::full(spec_, now)).first;
    }
    b = it->second.take(spec_, now);
  }
  d.allowed = b.allowed;
  d.limit = static_cast<unsigned>(spec_.burst);
  d.remaining = static_cast<unsigned>(std::floor(std::max(0.0, b.remaining)));
  d.reset_seconds = static_cast<unsigned>(std::ceil(b.reset.count()));
  if (!b.allowed)
    d.retry_after_seconds = std::max(1u, static_cast<unsigned>(std::ceil(b.retry_after.count() - 1e-9)));
  return d;
}

void rate_limiter::sweep() {
  const auto now = clock_.now();
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    sweep_locked(s, now);
  }
}

std::size_t rate_limiter::size() const {
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

}  // namespace jobrelay::limit
