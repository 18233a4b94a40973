#include "jobrelay/limit/shared_rate_limiter.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <vector>

#include "jobrelay/limit/rate_limiter.hpp"
#include "jobrelay/redis/client.hpp"

// Layout, under the key prefix (default "jobrelay:"):
//   rl:<submit|poll>:<client id>   hash: tokens = tokens left (a float),
//                                  ts = last refill (ms, Redis' clock).
//                                  PEXPIRE: until the bucket would be full
//                                  again, when it is the same as no key.
// Client ids are API key ids or addresses; keys are binary-safe, so any
// bytes would do.

namespace jobrelay::limit {
namespace {

// One check, atomically: refill for the time since the last one, take a token
// if there is one, and say what take_result needs. Time is Redis' TIME, so the
// replicas' clocks never have to agree. The arithmetic is token_bucket's
// (the same slack for float rounding), in milliseconds.
// KEYS: the bucket. ARGV: rate per second, burst.
// Returns {allowed 0|1, whole tokens left, ms until one token, ms until full}.
const redis::script& take_script() {
  static const redis::script s(R"(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per_ms = tonumber(ARGV[1]) / 1000
local cap = math.max(tonumber(ARGV[2]), 1)
local eps = 1e-9
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local last = tonumber(b[2])
if not tokens or not last then
  tokens = cap
  last = now
elseif now > last then
  tokens = math.min(cap, tokens + (now - last) * per_ms)
  last = now
end
local allowed = 0
if tokens + eps >= 1 then
  tokens = math.max(0, tokens - 1)
  allowed = 1
end
-- Bounded so that an absurdly slow rate still gives PEXPIRE an integer.
local max_ms = 1e15
local retry = 0
if tokens + eps < 1 then retry = math.min(max_ms, math.ceil((1 - tokens) / per_ms)) end
local full = math.min(max_ms, math.max(1, math.ceil((cap - tokens) / per_ms)))
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', last))
redis.call('PEXPIRE', KEYS[1], string.format('%d', full))
return {allowed, math.floor(tokens + eps), retry, full}
)");
  return s;
}

// Shortest text that reads back as the same double ("0.001", "1e-07"), which
// Lua's tonumber reads too; std::to_string would print 1e-07 as "0.000000".
std::string number_text(double value) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc{} ? end : buffer);
}

// The script's answer, or nullopt for anything else (which means a script or
// server the limiter does not know: treated as Redis being unusable).
std::optional<take_result> taken_from(const redis::reply& r) {
  if (r.type != redis::reply::kind::array || r.elements.size() != 4) return std::nullopt;
  for (const auto& e : r.elements)
    if (e.type != redis::reply::kind::integer || e.integer < 0) return std::nullopt;
  take_result taken;
  taken.allowed = r.elements[0].integer == 1;
  taken.remaining = static_cast<std::uint64_t>(r.elements[1].integer);
  taken.retry_after = std::chrono::milliseconds(r.elements[2].integer);
  taken.reset = std::chrono::milliseconds(r.elements[3].integer);
  return taken;
}

std::string describe(const redis::reply& r) {
  if (r.is_error()) return r.str;
  return "unexpected answer of type " + std::to_string(static_cast<int>(r.type));
}

}  // namespace

shared_rate_limiter::shared_rate_limiter(std::string name, redis::client& redis,
                                         rate_limiter& fallback,
                                         shared_rate_limiter_options options)
    : name_(std::move(name)),
      redis_(redis),
      fallback_(fallback),
      options_(std::move(options)),
      rate_arg_(number_text(fallback.spec().rate_per_second)),
      burst_arg_(number_text(fallback.spec().burst)) {}

std::string shared_rate_limiter::key_for(std::string_view client_id) const {
  std::string key = options_.key_prefix + "rl:" + name_ + ":";
  key.append(client_id);
  return key;
}

boost::asio::awaitable<decision> shared_rate_limiter::check(std::string_view client_id) {
  const rate_spec& spec = fallback_.spec();
  if (!spec.enabled()) co_return decision{};

  // Built before the co_await: GCC 12 and temporaries in a co_await's
  // full expression do not mix (redis/client.hpp).
  std::vector<std::string> keys;
  keys.push_back(key_for(client_id));
  std::vector<std::string> args;
  args.push_back(rate_arg_);
  args.push_back(burst_arg_);
  const auto r = co_await redis_.eval(take_script(), std::move(keys), std::move(args));

  if (!r) {
    // A replica shutting down needs no warning: its Redis client is stopped.
    if (r.error() == errc::shutting_down) co_return fallback_.check(client_id);
    const std::string why = r.error().message();
    co_return fall_back(client_id, why);
  }
  const auto taken = taken_from(*r);
  if (!taken) {
    const std::string why = describe(*r);
    co_return fall_back(client_id, why);
  }
  if (degraded_.exchange(false))
    spdlog::info("rate_limit.{}: Redis answers again; limits are shared by the replicas again",
                 name_);
  co_return decide(spec, *taken);
}

// One warning when the outage starts, not one per request: while Redis is
// down every request comes here.
decision shared_rate_limiter::fall_back(std::string_view client_id, std::string_view why) {
  ++fallbacks_;
  if (!degraded_.exchange(true))
    spdlog::warn(
        "rate_limit.{}: Redis cannot be used ({}); each replica limits with its own buckets "
        "until it can",
        name_, why);
  return fallback_.check(client_id);
}

}  // namespace jobrelay::limit
