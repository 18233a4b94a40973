// Who is asking, and may they: API-key auth (when configured), the client
// identity of API.md (the key; else the peer address, or the right-most
// untrusted X-Forwarded-For entry behind a trusted proxy), and the
// per-client token buckets for submits and polls with their RateLimit headers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobrelay/http/message.hpp"
#include "jobrelay/http/router.hpp"

namespace jobrelay {
struct config;
class clock;
}  // namespace jobrelay

namespace jobrelay::redis {
class client;
}

namespace jobrelay::api {

class link_tokens;

enum class limit_class { submit, poll };

struct admission {
  std::string client_id;  // the rate-limit key; also scopes Idempotency-Keys
  std::string owner;      // id of the API key; empty when auth is off
  bool peer_is_trusted_proxy = false;
  bool via_link_token = false;  // admitted by an event-stream link token
  std::vector<std::pair<std::string, std::string>> headers;  // RateLimit, RateLimit-Policy
  std::optional<http::response> rejection;  // a 401 or 429 problem, ready to send

  // Adds the headers every answer on a limited route carries.
  void decorate(http::response& res) const {
    for (const auto& [name, value] : headers) res.set(name, value);
  }
};

class client_gate {
 public:
  // `shared_limits`: the Redis that holds the buckets all replicas share
  // (rate_limit.backend: redis); null for per-replica buckets only. It must
  // outlive the gate.
  client_gate(const config& cfg, const clock& clock, redis::client* shared_limits = nullptr);
  ~client_gate();

  // `link_token_job`: on the event-stream route, the job whose link token (the
  // `token` query parameter) may stand in for the API key. A coroutine
  // because shared limits ask Redis; it never fails and, Redis down or slow,
  // answers within the Redis client's command timeout. `ctx` and
  // `link_token_job` must stay valid until it completes.
  boost::asio::awaitable<admission> admit(const http::request_context& ctx, limit_class which,
                                          std::string_view link_token_job = {});
  // The same decision made at once, without a coroutine, when it needs no
  // Redis (`which` is limited per replica, or not at all); otherwise nothing,
  // and the caller awaits admit().
  std::optional<admission> admit_now(const http::request_context& ctx, limit_class which,
                                     std::string_view link_token_job = {});

  // The client by its address: the peer, or behind a trusted proxy the
  // right-most untrusted X-Forwarded-For entry.
  std::string network_client(const http::request_context& ctx) const;

  bool auth_enabled() const;
  const link_tokens& tokens() const;

  // Drops idle buckets; called by a periodic timer.
  void sweep();

  // Requests refused by each limiter so far (a counter for /metrics).
  std::uint64_t rejections(limit_class which) const;
  // Checks that shared limits could not make in Redis, so the replica's own
  // buckets decided them (a counter for /metrics; 0 with local limits).
  std::uint64_t fallbacks(limit_class which) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A query parameter's raw value ("" when absent). Values we read (ids,
// numbers, tokens) are URL-safe, so no percent-decoding is needed.
std::string_view query_param(std::string_view query, std::string_view name);

}  // namespace jobrelay::api
