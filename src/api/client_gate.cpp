#include "jobrelay/api/client_gate.hpp"

#include <boost/beast/core/string.hpp>

#include "jobrelay/config.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/limit/client_identity.hpp"
#include "jobrelay/limit/rate_limiter.hpp"

namespace jobrelay::api {

struct client_gate::impl {
  // The loader has validated every CIDR already; a failure here is a bug.
  impl(const config& cfg, const clock& clock)
      : trusted(limit::trusted_proxies::parse(cfg.server.trusted_proxies).value()),
        submit(cfg.rate_limit.submit, clock),
        poll(cfg.rate_limit.poll, clock) {}
  limit::trusted_proxies trusted;
  limit::rate_limiter submit;
  limit::rate_limiter poll;
};

client_gate::client_gate(const config& cfg, const clock& clock)
    : impl_(std::make_unique<impl>(cfg, clock)) {}
client_gate::~client_gate() = default;

admission client_gate::admit(const http::request_context& ctx, limit_class which) {
  admission a;
  a.peer_is_trusted_proxy = impl_->trusted.contains(ctx.peer);
  std::vector<std::string_view> xff;
  if (a.peer_is_trusted_proxy)
    for (const auto& f : ctx.req.base())
      if (f.name_string().size() == 15 && boost::beast::iequals(f.name_string(), "X-Forwarded-For"))
        xff.emplace_back(f.value().data(), f.value().size());
  a.client_id = limit::resolve_client(ctx.peer, std::span<const std::string_view>(xff), impl_->trusted);

  auto& limiter = which == limit_class::submit ? impl_->submit : impl_->poll;
  const auto d = limiter.check(a.client_id);
  if (!d.allowed)
    a.rejection = http::problem_with_retry(
        http::status::too_many_requests, "rate-limited", "Too Many Requests",
        std::string(which == limit_class::submit ? "submit" : "poll") +
            " rate limit exceeded; retry after " + std::to_string(d.retry_after_seconds) + " s",
        d.retry_after_seconds);
  return a;
}

void client_gate::sweep() {
  impl_->submit.sweep();
  impl_->poll.sweep();
}

std::size_t client_gate::tracked_clients() const { return impl_->submit.size() + impl_->poll.size(); }

}  // namespace jobrelay::api
