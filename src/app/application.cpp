#include "jobrelay/app/application.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "jobrelay/api/access_log.hpp"
#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/public_url.hpp"
#include "jobrelay/api/service.hpp"
#include "jobrelay/api/service_metrics.hpp"
#include "jobrelay/api/upstream_health.hpp"
#include "jobrelay/http/server.hpp"
#include "jobrelay/jobs/change_feed.hpp"
#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/redis/client.hpp"
#include "jobrelay/store/memory_store.hpp"
#include "jobrelay/store/redis_store.hpp"
#include "jobrelay/text.hpp"
#include "jobrelay/upstream/http_analyzer.hpp"
#include "jobrelay/upstream/http_client.hpp"

namespace jobrelay::app {
namespace asio = boost::asio;
using namespace std::chrono;

namespace {

upstream::client_options client_options_from(const config& cfg) {
  upstream::client_options o;
  o.connect_timeout = milliseconds(cfg.upstream.connect_timeout_ms);
  o.request_timeout = milliseconds(cfg.upstream.request_timeout_ms);
  o.max_connections = cfg.upstream.max_connections;
  o.max_response_bytes = cfg.upstream.max_response_bytes;
  o.tls_verify = cfg.upstream.tls_verify;
  o.tls_ca_file = cfg.upstream.tls_ca_file;
  const std::string_view scheme = std::string_view(cfg.upstream.base_url).substr(0, 6);
  o.tls_at_start = iequals_ascii(scheme, "https:") || !cfg.upstream.tls_ca_file.empty();
  return o;
}

jobs::engine_options engine_options_from(const config& cfg) {
  jobs::engine_options o;
  o.poll_initial = milliseconds(cfg.polling.upstream_initial_ms);
  o.poll_backoff = cfg.polling.upstream_backoff;
  o.poll_max = milliseconds(cfg.polling.upstream_max_ms);
  o.max_retries = cfg.upstream.max_retries;
  // Transient retries start at 250 ms, or sooner when polls are configured faster.
  o.retry_base = std::min(milliseconds(250), milliseconds(cfg.polling.upstream_initial_ms));
  o.retry_cap = milliseconds(cfg.polling.upstream_max_ms);
  o.max_job_duration = seconds(cfg.jobs.max_job_duration_seconds);
  o.max_pending_submits = cfg.upstream.max_pending_submits;
  // No more calls at once than pooled connections: the rest would only queue
  // for a connection while holding a call's memory.
  o.max_concurrent_calls = cfg.upstream.max_connections;
  return o;
}

// The results store the config asks for, with what it needs: nothing for
// memory, a Redis client and this replica's change subscription for redis.
// The Redis client is also the shared rate limits' (rate_limit.backend:
// redis), which may be asked for with the memory store too: then the client
// is there for the limits alone, on the same store.redis_url.
struct store_stack {
  std::unique_ptr<redis::client> redis;
  std::unique_ptr<redis::subscriber> changes;
  std::unique_ptr<store::memory_store> memory;
  std::unique_ptr<store::redis_store> shared;
  store::results_store* store = nullptr;
  bool shared_limits = false;

  store_stack(const config& cfg, asio::io_context& ioc)
      : shared_limits(cfg.rate_limit.backend == "redis") {
    std::optional<redis::endpoint> where;
    if (cfg.store.backend == "redis" || shared_limits) {
      std::string why;
      auto parsed = redis::parse_url(cfg.store.redis_url, &why);
      if (!parsed) throw std::runtime_error("store.redis_url: " + why);
      where = *parsed;
      redis = std::make_unique<redis::client>(ioc.get_executor(), *where);
    }
    if (cfg.store.backend != "redis") {
      memory = std::make_unique<store::memory_store>(
          store::memory_store_options{cfg.limits.max_jobs, cfg.limits.max_cache_bytes,
                                      seconds(cfg.jobs.result_ttl_seconds)},
          real_clock());
      store = memory.get();
      return;
    }
    changes = std::make_unique<redis::subscriber>(ioc.get_executor(), *where);
    store::redis_store_options o;
    o.max_jobs = cfg.limits.max_jobs;
    o.result_ttl = seconds(cfg.jobs.result_ttl_seconds);
    o.max_job_duration = seconds(cfg.jobs.max_job_duration_seconds);
    o.lease = milliseconds(cfg.store.lease_ms);
    o.max_cache_bytes = cfg.limits.max_cache_bytes;
    shared = std::make_unique<store::redis_store>(*redis, *changes, o);
    store = shared.get();
  }

  // For the client gate: null unless rate limits are shared.
  redis::client* limits_redis() const { return shared_limits ? redis.get() : nullptr; }

  void wire(jobs::change_feed& feed) {
    if (memory) memory->on_change([&feed](std::string_view id) { feed.notify(id); });
    if (shared) {
      shared->on_change([&feed](std::string_view id) { feed.notify(id); });
      shared->on_missed_changes([&feed] { feed.notify_all(); });
    }
  }

  void start() {
    if (redis) redis->start();
    if (shared) shared->start();
  }

  // At start-up, give Redis a moment before answering: a replica that
  // listens before its store is reachable answers its first requests 503
  // (or, with shared limits only, limits them per replica). It starts anyway
  // after `patience` (/readyz says 503 until Redis is up, when it holds the
  // store).
  void await_redis(milliseconds patience) const {
    if (!redis) return;
    const auto deadline = steady_clock::now() + patience;
    while (!redis->connected() && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
    if (redis->connected()) return;
    if (shared)
      spdlog::warn("redis not reachable yet; starting anyway (/readyz answers 503 until it is)");
    else
      spdlog::warn(
          "redis not reachable yet; starting anyway (rate limits are per replica until it is)");
  }

  void stop() {
    if (changes) changes->stop();
    if (redis) redis->stop();
  }
};

}  // namespace

struct application::impl {
  explicit impl(config c)
      : cfg(std::move(c)),
        connection_contexts(make_connection_contexts(cfg.server.threads)),
        ioc(1),
        stores(cfg, ioc),
        store(*stores.store),
        client(ioc.get_executor(), client_options_from(cfg)),
        analyzer(client, {cfg.upstream.base_url, cfg.upstream.submit_path, cfg.upstream.headers}),
        // One thread runs ioc: the engine's handlers run one at a time
        // without a strand.
        engine(ioc.get_executor(), store, analyzer, engine_options_from(cfg), real_clock()),
        gate(cfg, real_clock(), stores.limits_redis()),
        svc{cfg, engine, store, gate, feed, real_clock(), real_clock().now()},
        service_metrics(registry),
        routes(make_routes()),
        server(ioc,
               {cfg.server.listen, milliseconds(cfg.server.header_timeout_ms),
                milliseconds(cfg.server.idle_timeout_ms), cfg.server.max_connections,
                cfg.limits.max_body_bytes, /*one_thread=*/true, api::cors_decorator(cfg),
                api::make_access_log(cfg, gate),
                api::request_metrics(service_metrics, routes.patterns()), connection_targets(),
                cfg.server.max_pending_write_bytes},
               api::with_cors(routes.as_handler(), cfg)),
        signals(ioc),
        sweeper(ioc),
        delay(ioc) {
    svc.sse_keepalive = milliseconds(cfg.server.sse_keepalive_ms);
    svc.link_prefix = api::link_prefix(cfg.server.public_url);
    stores.wire(feed);
    service_metrics.watch(svc, server);
    svc.upstream_calls = &upstream_health;
    service_metrics.observe(engine, &upstream_health);
  }

  http::router make_routes() {
    auto r = api::make_router(svc);
    api::add_metrics_route(r, service_metrics);
    return r;
  }

  // Each I/O thread runs an io_context of its own. The first runs ioc: the
  // listener, the engine, the upstream and Redis clients, the timers, and its
  // turn of the connections; each other thread runs connections only. One
  // io_context run by every thread (as before) had every completion take the
  // same scheduler lock and hand work between threads: with two threads here,
  // a fifth more CPU per request and a third more per job (bench/README.md).
  static std::vector<std::unique_ptr<asio::io_context>> make_connection_contexts(unsigned threads) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (unsigned i = 1; i < threads; ++i)
      contexts.push_back(std::make_unique<asio::io_context>(1));
    return contexts;
  }
  // Every I/O thread's context, ioc first.
  std::vector<asio::io_context*> io_contexts() {
    std::vector<asio::io_context*> contexts{&ioc};
    for (auto& c : connection_contexts) contexts.push_back(c.get());
    return contexts;
  }
  // Where connections run, in turn: every context. None with one thread,
  // whose connections stay on the server's own (ioc).
  std::vector<asio::io_context*> connection_targets() {
    if (connection_contexts.empty()) return {};
    return io_contexts();
  }

  config cfg;
  // One per I/O thread but the first. Destroyed after ioc: an accept still
  // pending there holds the socket it would hand to one of them.
  std::vector<std::unique_ptr<asio::io_context>> connection_contexts;
  asio::io_context ioc;  // run by the first I/O thread alone
  store_stack stores;
  store::results_store& store;
  upstream::http_client client;
  upstream::http_analyzer analyzer;
  jobs::engine engine;
  api::client_gate gate;
  jobs::change_feed feed;
  api::service svc;
  api::upstream_health upstream_health{real_clock()};
  metrics::registry registry;
  api::service_metrics service_metrics;
  http::router routes;
  http::server server;
  asio::signal_set signals;
  asio::steady_timer sweeper;
  asio::steady_timer delay;  // drain_delay_ms
  std::vector<std::thread> threads;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::atomic<bool> stopping{false};
  std::atomic<bool> drained_cleanly{false};

  // Once a second: expiry and counters of the store, idle rate-limit buckets.
  asio::awaitable<void> upkeep() {
    while (!stopping) {
      co_await store.maintain();
      gate.sweep();
      sweeper.expires_after(seconds(1));
      boost::system::error_code ec;
      co_await sweeper.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  // Graceful stop, in two steps. First, for drain_delay_ms, the replica
  // still accepts but says it is going: /readyz 503, POST /analyze 503, and
  // Connection: close on every answer, so a load balancer's health check takes
  // it out while it still answers. Then the listener closes, job coroutines
  // stop, held long polls and event streams answer at once, idle connections
  // close, and requests in flight get up to drain_seconds.
  void begin_stop() {
    if (stopping.exchange(true)) return;
    svc.draining = true;
    server.set_draining(true);
    sweeper.cancel();
    if (cfg.server.drain_delay_ms == 0) return close_and_drain();
    delay.expires_after(milliseconds(cfg.server.drain_delay_ms));
    delay.async_wait([this](boost::system::error_code) { close_and_drain(); });
  }

  void close_and_drain() {
    server.stop_accepting();
    engine.stop();
    // Jobs are stopped: upstream calls still out end now rather than after
    // upstream.request_timeout_ms (their outcome would be dropped anyway).
    client.shutdown();
    feed.close();  // long polls and event streams answer now, not at their deadline
    server.close_idle_connections();
    asio::co_spawn(ioc, drain(), asio::detached);
  }

  // Waits (up to drain_seconds) for open connections and job coroutines to
  // end, then stops the I/O threads. Ending with none left matters: their
  // frames, destroyed with the io_context, would outlive the objects they
  // point to (main() exits without destructors when the drain runs out).
  // A 20 ms poll for the few seconds of a drain costs nothing and keeps the
  // server and engine free of shutdown hooks.
  asio::awaitable<void> drain() {
    const auto deadline = steady_clock::now() + seconds(cfg.server.drain_seconds);
    asio::steady_timer tick(ioc);
    const auto busy = [this] { return server.open_connections() > 0 || engine.active() > 0; };
    while (busy() && steady_clock::now() < deadline) {
      tick.expires_after(milliseconds(20));
      co_await tick.async_wait(asio::use_awaitable);
    }
    stores.stop();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    work.clear();
    drained_cleanly = !busy();
    if (!drained_cleanly)
      spdlog::warn("drain: {} connections and {} jobs still open after {} s; stopping anyway",
                   server.open_connections(), engine.active(), cfg.server.drain_seconds);
    for (auto* c : io_contexts()) c->stop();
  }
};

application::application(config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}

application::~application() {
  if (!impl_->threads.empty()) {
    stop();
    wait();
  }
}

void application::start() {
  if (auto r = impl_->server.listen(); !r)
    throw std::runtime_error("cannot listen on " + impl_->cfg.server.listen + ": " +
                             r.error().message());
  impl_->stores.start();
  asio::co_spawn(impl_->ioc, impl_->upkeep(), asio::detached);
  for (auto* c : impl_->io_contexts()) impl_->work.emplace_back(c->get_executor());
  // One I/O thread allocates from glibc's main arena (unless MALLOC_ARENA_MAX
  // says otherwise): a thread's own arena grows a page at a time, an mprotect
  // per 4 KB (0.4 syscalls per job in bench D), the main one by brk in 128 KB
  // steps. With one busy thread nobody contends for its lock; with several,
  // each keeps an arena of its own.
  if (impl_->cfg.server.threads == 1 && std::getenv("MALLOC_ARENA_MAX") == nullptr)
    mallopt(M_ARENA_MAX, 1);
  for (auto* c : impl_->io_contexts()) impl_->threads.emplace_back([c] { c->run(); });
  // Connections that arrive meanwhile wait in the listen queue.
  impl_->stores.await_redis(seconds(3));
  impl_->server.start();
  spdlog::info("jobrelay listening on {} (upstream {}, {} I/O threads)", local_address(),
               impl_->cfg.upstream.base_url, impl_->cfg.server.threads);
}

bool application::wait() {
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
  return impl_->drained_cleanly;
}

void application::stop() {
  asio::post(impl_->ioc, [this] { impl_->begin_stop(); });
}

void application::handle_signals() {
  impl_->signals.add(SIGTERM);
  impl_->signals.add(SIGINT);
  auto on_signal = [this](auto&& self, boost::system::error_code ec, int sig) -> void {
    if (ec) return;
    if (impl_->stopping) {
      // At once means no destructors either: they would wait for, or free
      // under, coroutines still running.
      spdlog::warn("second signal {}: exiting at once", sig);
      spdlog::shutdown();
      std::_Exit(128 + sig);
    }
    impl_->begin_stop();  // first: once the line below is out, /readyz already answers 503
    spdlog::info("signal {}: draining (listener closes in {} ms, then up to {} s for requests in flight)",
                 sig, impl_->cfg.server.drain_delay_ms, impl_->cfg.server.drain_seconds);
    impl_->signals.async_wait([this, self](boost::system::error_code e, int s) { self(self, e, s); });
  };
  impl_->signals.async_wait(
      [this, on_signal](boost::system::error_code ec, int sig) { on_signal(on_signal, ec, sig); });
}

std::string application::local_address() const { return impl_->server.local_address(); }
unsigned short application::local_port() const { return impl_->server.local_port(); }

std::vector<std::string> route_patterns() {
  config cfg;
  cfg.server.threads = 1;
  const application::impl app(std::move(cfg));
  return app.routes.patterns();
}

}  // namespace jobrelay::app
