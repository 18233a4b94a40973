#include "jobrelay/api/client_gate.hpp"

#include <atomic>
#include <boost/beast/core/string.hpp>

#include "jobrelay/api/auth.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/limit/client_identity.hpp"
#include "jobrelay/limit/rate_limiter.hpp"

namespace jobrelay::api {

struct client_gate::impl {
  // The loader has validated every CIDR already; a failure here is a bug.
  impl(const config& cfg, const clock& c)
      : clk(c),
        trusted(limit::trusted_proxies::parse(cfg.server.trusted_proxies).value()),
        keys(cfg.auth.api_keys),
        tokens(cfg.auth.link_secret),
        submit(cfg.rate_limit.submit, c),
        poll(cfg.rate_limit.poll, c) {}
  const clock& clk;
  limit::trusted_proxies trusted;
  api_keys keys;
  link_tokens tokens;
  limit::rate_limiter submit;
  limit::rate_limiter poll;
  std::atomic<std::uint64_t> submit_rejections{0}, poll_rejections{0};
};

client_gate::client_gate(const config& cfg, const clock& clock)
    : impl_(std::make_unique<impl>(cfg, clock)) {}
client_gate::~client_gate() = default;

bool client_gate::auth_enabled() const { return impl_->keys.enabled(); }
const link_tokens& client_gate::tokens() const { return impl_->tokens; }

std::string_view query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == pair.npos ? std::string_view{} : pair.substr(eq + 1);
    if (amp == query.npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

namespace {

std::string network_client_of(const http::request_context& ctx, const limit::trusted_proxies& trusted,
                              bool peer_is_trusted) {
  std::vector<std::string_view> xff;
  if (peer_is_trusted)
    for (const auto& f : ctx.req.base())
      if (boost::beast::iequals(f.name_string(), "X-Forwarded-For"))
        xff.emplace_back(f.value().data(), f.value().size());
  return limit::resolve_client(ctx.peer, std::span<const std::string_view>(xff), trusted);
}

}  // namespace

std::string client_gate::network_client(const http::request_context& ctx) const {
  return network_client_of(ctx, impl_->trusted, impl_->trusted.contains(ctx.peer));
}

admission client_gate::admit(const http::request_context& ctx, limit_class which,
                             std::string_view link_token_job) {
  admission a;
  a.peer_is_trusted_proxy = impl_->trusted.contains(ctx.peer);
  const auto network_id = network_client_of(ctx, impl_->trusted, a.peer_is_trusted_proxy);

  if (impl_->keys.enabled()) {
    const auto authorization = ctx.req[http::field::authorization];
    if (auto owner = impl_->keys.authenticate({authorization.data(), authorization.size()})) {
      a.owner = *owner;
      a.client_id = *owner;  // the key is the client, wherever it connects from
    } else if (!link_token_job.empty() && authorization.empty() &&
               impl_->tokens.verify(link_token_job, query_param(ctx.query, "token"),
                                    impl_->clk.wall_now())) {
      a.via_link_token = true;
      a.client_id = network_id;
    } else {
      auto res = http::problem_response(
          http::status::unauthorized, "unauthorized", "Unauthorized",
          authorization.empty() ? "this endpoint needs Authorization: Bearer <api key>"
                                : "the API key is not valid");
      res.set(http::field::www_authenticate,
              authorization.empty() ? R"(Bearer realm="jobrelay")"
                                    : R"(Bearer realm="jobrelay", error="invalid_token")");
      a.rejection = std::move(res);
      return a;
    }
  } else {
    a.client_id = network_id;
  }

  auto& limiter = which == limit_class::submit ? impl_->submit : impl_->poll;
  const auto d = limiter.check(a.client_id);
  if (d.enabled) {
    // IETF httpapi RateLimit fields (draft 08, structured fields): the policy
    // is the bucket (quota = burst over the time a full refill takes).
    const char* name = which == limit_class::submit ? "\"submit\"" : "\"poll\"";
    a.headers.emplace_back("RateLimit-Policy", std::string(name) + ";q=" + std::to_string(d.policy.limit) +
                                                   ";w=" + std::to_string(d.policy.window_seconds));
    a.headers.emplace_back("RateLimit", std::string(name) + ";r=" + std::to_string(d.remaining) +
                                            ";t=" + std::to_string(d.allowed ? d.reset_seconds : d.retry_after_seconds));
  }
  if (!d.allowed) {
    ++(which == limit_class::submit ? impl_->submit_rejections : impl_->poll_rejections);
    auto res = http::problem_with_retry(
        http::status::too_many_requests, "rate-limited", "Too Many Requests",
        std::string(which == limit_class::submit ? "submit" : "poll") +
            " rate limit exceeded; retry after " + std::to_string(d.retry_after_seconds) + " s",
        static_cast<unsigned>(d.retry_after_seconds));
    a.decorate(res);
    a.rejection = std::move(res);
  }
  return a;
}

std::uint64_t client_gate::rejections(limit_class which) const {
  return (which == limit_class::submit ? impl_->submit_rejections : impl_->poll_rejections).load();
}

void client_gate::sweep() {
  impl_->submit.sweep();
  impl_->poll.sweep();
}

}  // namespace jobrelay::api
