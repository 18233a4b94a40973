// A handler behind the client gate: auth and the rate limit first, then the
// handler, and the RateLimit headers on whatever it answers.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "jobrelay/api/client_gate.hpp"
#include "jobrelay/api/service.hpp"

namespace jobrelay::api {

template <class Handler>
http::handler admitted_route(service& s, limit_class which, Handler h) {
  return [&s, which, h](http::request_context& ctx) -> boost::asio::awaitable<http::response> {
    auto admitted = co_await s.gate.admit(ctx, which);
    ctx.client = admitted.client_id;
    if (admitted.rejection) co_return std::move(*admitted.rejection);
    auto res = co_await h(s, ctx, admitted);
    admitted.decorate(res);
    co_return res;
  };
}

}  // namespace jobrelay::api
