// Operations endpoints: never rate limited, never behind auth.
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "jobrelay/api/service.hpp"
#include "jobrelay/api/upstream_health.hpp"
#include "jobrelay/jobs/engine.hpp"
#include "jobrelay/store/results_store.hpp"
#include "jobrelay/version.hpp"

namespace jobrelay::api {
namespace {

http::response json_answer(http::status code, const nlohmann::json& body) {
  http::response res{code, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = body.dump();
  return res;
}

}  // namespace

void add_ops_routes(http::router& r, service& s) {
  r.add(http::verb::get, "/healthz", [](http::request_context&) -> boost::asio::awaitable<http::response> {
    co_return json_answer(http::status::ok, {{"status", "ok"}});
  });
  r.add(http::verb::get, "/readyz", [&s](http::request_context&) -> boost::asio::awaitable<http::response> {
    if (s.draining.load()) {
      auto res = json_answer(http::status::service_unavailable, {{"status", "draining"}});
      res.set(http::field::retry_after, "5");  // every 503 says when to come back
      co_return res;
    }
    if (!s.store.available()) {
      auto res = json_answer(http::status::service_unavailable, {{"status", "store-unavailable"}});
      res.set(http::field::retry_after, "1");
      co_return res;
    }
    co_return json_answer(http::status::ok, {{"status", "ready"}});
  });
  r.add(http::verb::get, "/stats", [&s](http::request_context&) -> boost::asio::awaitable<http::response> {
    const auto st = s.store.stats();
    const auto uptime = std::chrono::duration<double>(s.clk.now() - s.started_at).count();
    nlohmann::json body = {
        {"version", std::string(version)},
        {"uptime_seconds", uptime},
        {"jobs",
         {{"total", st.jobs},
          {"queued", st.queued},
          {"running", st.running},
          {"succeeded", st.succeeded},
          {"failed", st.failed},
          {"active_pollers", s.engine.jobs_in_hand()}}},
        {"cache", {{"bytes", st.bytes}, {"expired", st.expired}, {"evicted", st.evicted}}},
        {"held",
         {{"long_polls", s.long_polls.load()},
          {"event_streams", s.event_streams.load()},
          {"submits", s.engine.waiting_for_room()}}},
        {"upstream",
         {{"base_url", s.cfg.upstream.base_url},
          {"pending_submits", s.engine.pending_submits()},
          {"max_pending_submits", s.cfg.upstream.max_pending_submits}}}};
    if (s.upstream_calls) body["upstream"]["health"] = s.upstream_calls->to_json();
    co_return json_answer(http::status::ok, body);
  });
}

}  // namespace jobrelay::api
