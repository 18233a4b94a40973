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
    // Decided on the spot unless Redis must be asked: one coroutine less per
    // request. (The awaited admission is named before it is stored: GCC 12
    // mishandles some temporaries in a full-expression with a co_await.)
    auto decided = s.gate.admit_now(ctx, which);
    if (!decided) {
      auto awaited = co_await s.gate.admit(ctx, which);
      decided.emplace(std::move(awaited));
    }
    admission& admitted = *decided;
    ctx.client = admitted.client_id;
    if (admitted.rejection) co_return std::move(*admitted.rejection);
    auto res = co_await h(s, ctx, admitted);
    admitted.decorate(res);
    co_return res;
  };
}

}  // namespace jobrelay::api
