#include "jobrelay/api/access_log.hpp"

#include <string>

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/http/server.hpp"
#include "jobrelay/limit/client_identity.hpp"
#include "jobrelay/log.hpp"

namespace jobrelay::api {

std::function<void(const http::exchange_record&)> make_access_log(const config& cfg,
                                                                 const client_gate& gate) {
  if (!cfg.log.access) return {};
  return [&gate](const http::exchange_record& r) {
    // A load balancer's health checks and Prometheus' scrapes come every few
    // seconds forever: their successes are debug lines, not the access log.
    const bool routine = r.status < 400 && r.ctx &&
                         (r.ctx->route == "/healthz" || r.ctx->route == "/readyz" ||
                          r.ctx->route == "/metrics");
    const auto lvl = routine ? log::level::debug : log::level::info;
    if (!log::enabled(lvl)) return;
    // Answers that never met the gate (ops endpoints, 404s) name the client
    // the same way; refusals before routing have only the peer.
    std::string client;
    if (!r.ctx)
      client = limit::normalized_address(r.peer);
    else if (!r.ctx->client.empty())
      client = r.ctx->client;
    else
      client = gate.network_client(*r.ctx);
    std::string_view method = "-", path = "-", route = "-";
    if (r.ctx) {
      const auto m = r.ctx->req.method_string();
      method = {m.data(), m.size()};
      path = r.ctx->path;
      if (!r.ctx->route.empty()) route = r.ctx->route;
    }
    const double ms = std::chrono::duration<double, std::milli>(r.elapsed).count();
    std::string message;
    message.reserve(method.size() + path.size() + 8);
    message.append(method).append(" ").append(path).append(" ").append(std::to_string(r.status));
    if (!r.written) message.append(" (client gone)");
    log::write(lvl, message,
               {{"method", method},
                {"path", path},
                {"route", route},
                {"status", std::uint64_t{r.status}},
                {"bytes", r.body_bytes},
                {"duration_ms", ms},
                {"client", std::string_view(client)},
                {"request_id", r.request_id}});
  };
}

}  // namespace jobrelay::api
