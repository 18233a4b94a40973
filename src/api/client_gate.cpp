#include "jobrelay/api/client_gate.hpp"

#include <atomic>
#include <boost/beast/core/string.hpp>

#include "jobrelay/api/auth.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/http/problem.hpp"
#include "jobrelay/limit/client_identity.hpp"
#include "jobrelay/limit/rate_limiter.hpp"
#include "jobrelay/limit/shared_rate_limiter.hpp"

namespace jobrelay::api {

namespace {

// Shared buckets when given a Redis (the application gives one only for
// rate_limit.backend: redis); each counts in Redis and falls back to the
// replica's limiter of the same limit.
std::unique_ptr<limit::shared_rate_limiter> shared_or_null(redis::client* redis, const char* name,
                                                           limit::rate_limiter& local) {
  if (!redis) return nullptr;
  return std::make_unique<limit::shared_rate_limiter>(name, *redis, local);
}

}  // namespace

struct client_gate::impl {
  // The loader has validated every CIDR already; a failure here is a bug.
  impl(const config& cfg, const clock& c, redis::client* shared_limits)
      : clk(c),
        trusted(limit::trusted_proxies::parse(cfg.server.trusted_proxies).value()),
        keys(cfg.auth.api_keys),
        tokens(cfg.auth.link_secret),
        submit(cfg.rate_limit.submit, c),
        poll(cfg.rate_limit.poll, c),
        shared_submit(shared_or_null(shared_limits, "submit", submit)),
        shared_poll(shared_or_null(shared_limits, "poll", poll)) {}

  // Who is asking: the client id, or a 401 ready to send.
  admission identify(const http::request_context& ctx, std::string_view link_token_job) const;
  // The RateLimit headers of `d`, and a 429 when it refuses.
  void apply(admission& a, limit_class which, const limit::decision& d);

  limit::rate_limiter& local(limit_class which) {
    return which == limit_class::submit ? submit : poll;
  }
  limit::shared_rate_limiter* shared(limit_class which) const {
    return which == limit_class::submit ? shared_submit.get() : shared_poll.get();
  }

  const clock& clk;
  limit::trusted_proxies trusted;
  api_keys keys;
  link_tokens tokens;
  // Per replica: the limiters themselves with rate_limit.backend local, the
  // fallback of the shared ones with redis.
  limit::rate_limiter submit;
  limit::rate_limiter poll;
  std::unique_ptr<limit::shared_rate_limiter> shared_submit;  // null: local limits
  std::unique_ptr<limit::shared_rate_limiter> shared_poll;
  std::atomic<std::uint64_t> submit_rejections{0}, poll_rejections{0};
};

client_gate::client_gate(const config& cfg, const clock& clock, redis::client* shared_limits)
    : impl_(std::make_unique<impl>(cfg, clock, shared_limits)) {}
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

admission client_gate::impl::identify(const http::request_context& ctx,
                                      std::string_view link_token_job) const {
  admission a;
  a.peer_is_trusted_proxy = trusted.contains(ctx.peer);
  const auto network_id = network_client_of(ctx, trusted, a.peer_is_trusted_proxy);

  if (keys.enabled()) {
    const auto authorization = ctx.req[http::field::authorization];
    if (auto owner = keys.authenticate({authorization.data(), authorization.size()})) {
      a.owner = *owner;
      a.client_id = *owner;  // the key is the client, wherever it connects from
    } else if (!link_token_job.empty() && authorization.empty() &&
               tokens.verify(link_token_job, query_param(ctx.query, "token"), clk.wall_now())) {
      a.via_link_token = true;
      a.client_id = limit::client_key(network_id);
    } else {
      auto res = http::problem_response(
          http::status::unauthorized, "unauthorized", "Unauthorized",
          authorization.empty() ? "this endpoint needs Authorization: Bearer <api key>"
                                : "the API key is not valid");
      res.set(http::field::www_authenticate,
              authorization.empty() ? R"(Bearer realm="jobrelay")"
                                    : R"(Bearer realm="jobrelay", error="invalid_token")");
      a.rejection = std::move(res);
    }
  } else {
    a.client_id = limit::client_key(network_id);
  }
  return a;
}

void client_gate::impl::apply(admission& a, limit_class which, const limit::decision& d) {
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
    ++(which == limit_class::submit ? submit_rejections : poll_rejections);
    auto res = http::problem_with_retry(
        http::status::too_many_requests, "rate-limited", "Too Many Requests",
        std::string(which == limit_class::submit ? "submit" : "poll") +
            " rate limit exceeded; retry after " + std::to_string(d.retry_after_seconds) + " s",
        static_cast<unsigned>(d.retry_after_seconds));
    a.decorate(res);
    a.rejection = std::move(res);
  }
}

boost::asio::awaitable<admission> client_gate::admit(const http::request_context& ctx,
                                                     limit_class which,
                                                     std::string_view link_token_job) {
  // A limit kept on this replica (or none) is decided at once; only a shared
  // one asks Redis.
  if (auto decided = admit_now(ctx, which, link_token_job)) co_return std::move(*decided);
  admission a = impl_->identify(ctx, link_token_job);
  if (a.rejection) co_return std::move(a);
  const limit::decision d = co_await impl_->shared(which)->check(a.client_id);
  impl_->apply(a, which, d);
  co_return std::move(a);
}

std::optional<admission> client_gate::admit_now(const http::request_context& ctx, limit_class which,
                                                std::string_view link_token_job) {
  if (impl_->shared(which)) return std::nullopt;
  admission a = impl_->identify(ctx, link_token_job);
  if (a.rejection) return a;
  impl_->apply(a, which, impl_->local(which).check(a.client_id));
  return a;
}

std::uint64_t client_gate::rejections(limit_class which) const {
  return (which == limit_class::submit ? impl_->submit_rejections : impl_->poll_rejections).load();
}

std::uint64_t client_gate::fallbacks(limit_class which) const {
  const auto* shared = impl_->shared(which);
  return shared ? shared->fallbacks() : 0;
}

void client_gate::sweep() {
  impl_->submit.sweep();
  impl_->poll.sweep();
}

}  // namespace jobrelay::api
