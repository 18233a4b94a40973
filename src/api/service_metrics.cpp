#include "jobrelay/api/service_metrics.hpp"

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <unordered_map>

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/api/upstream_health.hpp"
#include "jobrelay/http/server.hpp"
#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/store/results_store.hpp"

namespace jobrelay::api {
namespace {

const std::vector<double> latency_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
const std::vector<double> job_bounds = {1, 5, 15, 30, 60, 120, 180, 300, 600, 1800};

}  // namespace

service_metrics::service_metrics(metrics::registry& r)
    : registry(r),
      requests(r.counters("jobrelay_http_requests_total", "HTTP requests by route pattern and status code",
                          {"route", "code"})),
      request_seconds(r.histograms("jobrelay_http_request_duration_seconds",
                                   "Time from a parsed request to its answer (head, for streams)",
                                   {"route"}, latency_bounds)),
      upstream_calls(r.counters("jobrelay_upstream_calls_total",
                                "Upstream calls by kind (submit, poll) and outcome", {"call", "outcome"})),
      upstream_seconds(r.histograms("jobrelay_upstream_call_duration_seconds",
                                    "Duration of one upstream call", {"call"}, latency_bounds)),
      job_seconds(r.histograms("jobrelay_job_duration_seconds",
                               "Time from submit to a terminal status", {"status"}, job_bounds)) {}

void service_metrics::watch(service& s, const http::server& server) {
  registry.callback("jobrelay_jobs", "Jobs held, by status", "gauge", {"status"}, [&s] {
    const auto st = s.store.stats();
    return std::vector<metrics::sample>{{{"queued"}, double(st.queued)},
                                        {{"running"}, double(st.running)},
                                        {{"succeeded"}, double(st.succeeded)},
                                        {{"failed"}, double(st.failed)}};
  });
  registry.callback("jobrelay_cache_entries", "Jobs in the results cache", "gauge", {}, [&s] {
    return std::vector<metrics::sample>{{{}, double(s.store.stats().jobs)}};
  });
  registry.callback("jobrelay_cache_bytes", "Bytes held by the results cache", "gauge", {}, [&s] {
    return std::vector<metrics::sample>{{{}, double(s.store.stats().bytes)}};
  });
  registry.callback("jobrelay_cache_dropped_total", "Finished jobs dropped, by reason", "counter",
                    {"reason"}, [&s] {
                      const auto st = s.store.stats();
                      return std::vector<metrics::sample>{{{"expired"}, double(st.expired)},
                                                          {{"evicted"}, double(st.evicted)}};
                    });
  registry.callback("jobrelay_rate_limited_total", "Requests refused by the rate limiter", "counter",
                    {"limit"}, [&s] {
                      return std::vector<metrics::sample>{
                          {{"submit"}, double(s.gate.rejections(limit_class::submit))},
                          {{"poll"}, double(s.gate.rejections(limit_class::poll))}};
                    });
  registry.callback("jobrelay_rate_limit_fallbacks_total",
                    "Shared (Redis) rate-limit checks decided by the replica's own buckets because "
                    "Redis could not answer",
                    "counter", {"limit"}, [&s] {
                      return std::vector<metrics::sample>{
                          {{"submit"}, double(s.gate.fallbacks(limit_class::submit))},
                          {{"poll"}, double(s.gate.fallbacks(limit_class::poll))}};
                    });
  // The unlabelled ones: one number each, read at scrape time.
  const auto single = [this](std::string name, std::string help, std::string type,
                             std::function<double()> read) {
    registry.callback(std::move(name), std::move(help), std::move(type), {},
                      [read = std::move(read)] {
                        return std::vector<metrics::sample>{{{}, read()}};
                      });
  };
  single("jobrelay_upstream_pending_submits",
         "Accepted jobs whose submit the upstream has not answered yet (admission bound: "
         "upstream.max_pending_submits)",
         "gauge", [&s] { return double(s.engine.pending_submits()); });
  single("jobrelay_held_submits",
         "POST /analyze requests held for room under upstream.max_pending_submits "
         "(upstream.admission_wait_ms at most)",
         "gauge", [&s] { return double(s.engine.waiting_for_room()); });
  single("jobrelay_open_connections", "Open client connections", "gauge",
         [&server] { return double(server.open_connections()); });
  single("jobrelay_refused_connections_total",
         "Connections answered 503 because server.max_connections were open", "counter",
         [&server] { return double(server.refused_connections()); });
  single("jobrelay_slow_readers_closed_total",
         "Connections closed, their answer cut short, because it would have passed "
         "server.max_pending_write_bytes",
         "counter", [&server] { return double(server.slow_readers_closed()); });
  single("jobrelay_pending_write_bytes",
         "Bytes of answers waiting for slow readers (server.max_pending_write_bytes)", "gauge",
         [&server] { return double(server.pending_write_bytes()); });
  registry.callback("jobrelay_held_requests", "Requests held open: long polls and event streams",
                    "gauge", {"kind"}, [&s] {
                      return std::vector<metrics::sample>{{{"long_poll"}, double(s.long_polls.load())},
                                                          {{"event_stream"}, double(s.event_streams.load())}};
                    });
}

namespace {

// The children the engine's reports land on, each found in its family once.
// with() builds a vector of label strings and takes the family's lock; the
// engine reports two or three times per job, always from its own strand, so
// a copy of this in its observer needs no lock either.
template <class Metric>
class known_children {
 public:
  explicit known_children(metrics::family<Metric>& family) : family_(&family) {}

  Metric& at(std::string_view first, std::string_view second = {}) {
    for (const auto& known : known_)
      if (known.first == first && known.second == second) return *known.metric;
    metrics::label_values values{std::string(first)};
    if (!second.empty()) values.emplace_back(second);
    Metric& metric = family_->with(values);
    known_.push_back({std::string(first), std::string(second), &metric});
    return metric;
  }

 private:
  struct child {
    std::string first, second;
    Metric* metric;
  };
  metrics::family<Metric>* family_;
  std::vector<child> known_;
};

}  // namespace

void service_metrics::observe(jobs::engine& engine, upstream_health* health) {
  jobs::engine_observer o;
  o.upstream_call = [calls = known_children(upstream_calls),
                     durations = known_children(upstream_seconds), health](
                        std::string_view call, std::string_view outcome, double seconds) mutable {
    calls.at(call, outcome).inc();
    durations.at(call).observe(seconds);
    if (health) health->record(call, outcome);
  };
  o.finished = [durations = known_children(job_seconds)](jobs::job_status status,
                                                         double seconds) mutable {
    durations.at(jobs::to_string(status)).observe(seconds);
  };
  engine.observe(std::move(o));
}

namespace {

// One route's children: its latency histogram, and its counter per status
// code, each looked up in the family once and then read without a lock.
struct route_children {
  route_children(service_metrics& m, std::string route)
      : name(std::move(route)), seconds(&m.request_seconds.with({name})) {}
  metrics::counter& requests_with(service_metrics& m, unsigned code) {
    if (code < 100 || code >= 600) return m.requests.with({name, std::to_string(code)});
    auto& slot = by_code[code - 100];
    auto* known = slot.load(std::memory_order_acquire);
    if (!known) {
      known = &m.requests.with({name, std::to_string(code)});  // the family makes it once
      slot.store(known, std::memory_order_release);
    }
    return *known;
  }
  std::string name;
  metrics::histogram* seconds;
  std::array<std::atomic<metrics::counter*>, 500> by_code{};
};

}  // namespace

answer_observer request_metrics(service_metrics& m,
                                const std::vector<std::string>& route_patterns) {
  // Built once, then only read: no lock per request.
  auto routes = std::make_shared<std::unordered_map<std::string_view, std::unique_ptr<route_children>>>();
  auto unmatched = std::make_shared<route_children>(m, "unmatched");
  for (const auto& pattern : route_patterns) {
    auto children = std::make_unique<route_children>(m, pattern);
    const std::string_view key = children->name;
    routes->emplace(key, std::move(children));
  }
  return [&m, routes, unmatched](const http::request_context& ctx, const http::response& res,
                                 std::chrono::steady_clock::duration took) {
    route_children* route = unmatched.get();
    if (!ctx.route.empty()) {
      const auto it = routes->find(ctx.route);
      // A route added after start-up (none today) still counts, under its name.
      route = it != routes->end() ? it->second.get() : nullptr;
    }
    const double seconds = std::chrono::duration<double>(took).count();
    if (route) {
      route->requests_with(m, res.result_int()).inc();
      route->seconds->observe(seconds);
    } else {
      const std::string name(ctx.route);
      m.requests.with({name, std::to_string(res.result_int())}).inc();
      m.request_seconds.with({name}).observe(seconds);
    }
  };
}

void add_metrics_route(http::router& r, service_metrics& m) {
  r.add(http::verb::get, "/metrics", [&m](http::request_context&) -> boost::asio::awaitable<http::response> {
    http::response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = m.registry.expose();
    co_return res;
  });
}

}  // namespace jobrelay::api
