// The routes of jobrelay wired to the services they call. Each resource's
// handlers live in their own file (analyze.cpp, results.cpp, ops.cpp); this
// is the one place that knows them all.
#pragma once

#include <atomic>
#include <chrono>

#include "jobrelay/clock.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/http/router.hpp"

namespace jobrelay::jobs {
class engine;
class change_feed;
}  // namespace jobrelay::jobs
namespace jobrelay::store {
class results_store;
}

namespace jobrelay::api {

class client_gate;
class upstream_health;

struct service {
  const config& cfg;
  jobs::engine& engine;
  store::results_store& store;
  client_gate& gate;
  jobs::change_feed& feed;
  const clock& clk;
  steady_time started_at;
  std::atomic<bool> draining{false};
  // Held requests, for /stats and /metrics.
  std::atomic<std::size_t> long_polls{0};
  std::atomic<std::size_t> event_streams{0};
  // How long an idle event stream waits before a keep-alive comment.
  std::chrono::milliseconds sse_keepalive{15000};
  // Before the paths in a document's links: server.public_url's path.
  std::string link_prefix{};
  // How the upstream calls went, for /stats; none: not reported.
  const upstream_health* upstream_calls{};
};

// Counts a held request (long poll, event stream) while it lives.
struct gauge_hold {
  explicit gauge_hold(std::atomic<std::size_t>& g) : g_(g) { ++g_; }
  ~gauge_hold() { --g_; }
  gauge_hold(const gauge_hold&) = delete;
  gauge_hold& operator=(const gauge_hold&) = delete;
  std::atomic<std::size_t>& g_;
};

void add_analyze_routes(http::router& r, service& s);
void add_results_routes(http::router& r, service& s);
void add_events_routes(http::router& r, service& s);
void add_ops_routes(http::router& r, service& s);

inline http::router make_router(service& s) {
  http::router r;
  add_analyze_routes(r, s);
  add_results_routes(r, s);
  add_events_routes(r, s);
  add_ops_routes(r, s);
  return r;
}

// CORS in front of everything (API.md "CORS"): preflights answered before
// routing, auth or rate limits; the allow/expose headers on every answer to an
// allowed origin, problems, 304s and event streams included. With no
// allowed origin configured there is nothing to decorate: the decorator is
// empty and the handler only answers preflights (204, no CORS headers).
http::handler with_cors(http::handler next, const config& cfg);
// The same headers for answers the server makes itself (server_options::decorate_own).
std::function<void(const http::request&, http::response&)> cors_decorator(const config& cfg);

}  // namespace jobrelay::api
