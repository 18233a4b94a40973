// The metrics jobrelay exports (GET /metrics), registered in one place so the
// list in the README and this file cannot drift apart.
#pragma once

#include <chrono>
#include <functional>

#include "jobrelay/http/router.hpp"

namespace jobrelay::http {
class server;
}
#include "jobrelay/metrics/registry.hpp"

namespace jobrelay::jobs {
class engine;
}

namespace jobrelay::api {

struct service;
class upstream_health;

struct service_metrics {
  explicit service_metrics(metrics::registry& r);
  metrics::registry& registry;
  metrics::family<metrics::counter>& requests;            // route, code
  metrics::family<metrics::histogram>& request_seconds;   // route
  metrics::family<metrics::counter>& upstream_calls;      // call, outcome
  metrics::family<metrics::histogram>& upstream_seconds;  // call
  metrics::family<metrics::histogram>& job_seconds;       // status

  // Gauges and counters kept elsewhere, read at scrape time.
  void watch(service& s, const http::server& server);
  // Feeds upstream call and job duration figures from the engine, and each
  // call's outcome to `health` (/stats) when given.
  void observe(jobs::engine& engine, upstream_health* health = nullptr);
};

// Counts and times every request by route pattern and status code: the
// server's on_answer hook. The children for `route_patterns` are found once,
// so a request takes no lock (the family lock only on a route's first answer
// with a new status code).
using answer_observer = std::function<void(const http::request_context&, const http::response&,
                                           std::chrono::steady_clock::duration)>;
answer_observer request_metrics(service_metrics& m, const std::vector<std::string>& route_patterns);

void add_metrics_route(http::router& r, service_metrics& m);

}  // namespace jobrelay::api
