#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "jobrelay/http/router.hpp"

using namespace jobrelay::http;
using boost::asio::awaitable;

namespace {

response call(const router& r, verb method, std::string target) {
  boost::asio::io_context ioc;
  request req{method, target, 11};
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  request_context ctx{req, {}, path, {}, {}};
  auto fut = boost::asio::co_spawn(ioc, r.dispatch(ctx), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

handler echo(std::string name) {
  return [name](request_context& ctx) -> awaitable<response> {
    response res{status::ok, 11};
    res.body() = name + ":" + std::string(ctx.param);
    co_return res;
  };
}

}  // namespace

TEST(Router, MatchesLiteralAndParameterSegments) {
  router r;
  r.add(verb::get, "/results/{id}", echo("get"));
  r.add(verb::delete_, "/results/{id}", echo("delete"));
  r.add(verb::get, "/results/{id}/events", echo("events"));
  r.add(verb::post, "/analyze", echo("post"));
  EXPECT_EQ(call(r, verb::get, "/results/abc").body(), "get:abc");
  EXPECT_EQ(call(r, verb::delete_, "/results/abc").body(), "delete:abc");
  EXPECT_EQ(call(r, verb::get, "/results/abc/events").body(), "events:abc");
  EXPECT_EQ(call(r, verb::post, "/analyze").body(), "post:");
}

TEST(Router, UnknownPathIs404ProblemAndWrongMethodIs405WithAllow) {
  router r;
  r.add(verb::get, "/results/{id}", echo("get"));
  r.add(verb::delete_, "/results/{id}", echo("delete"));
  auto res = call(r, verb::get, "/nope");
  EXPECT_EQ(res.result(), status::not_found);
  EXPECT_EQ(res[field::content_type], "application/problem+json");
  EXPECT_EQ(call(r, verb::get, "/results/").result(), status::not_found);
  EXPECT_EQ(call(r, verb::get, "/results/a/b").result(), status::not_found);
  res = call(r, verb::post, "/results/abc");
  EXPECT_EQ(res.result(), status::method_not_allowed);
  EXPECT_EQ(res[field::allow], "GET, HEAD, DELETE");
}

// RFC 9110 9.3.2: HEAD wherever GET; the server, not the handler, drops the body.
TEST(Router, HeadRunsTheGetRoute) {
  router r;
  r.add(verb::get, "/results/{id}", echo("get"));
  r.add(verb::post, "/analyze", echo("post"));
  EXPECT_EQ(call(r, verb::head, "/results/abc").body(), "get:abc");
  const auto res = call(r, verb::head, "/analyze");
  EXPECT_EQ(res.result(), status::method_not_allowed);
  EXPECT_EQ(res[field::allow], "POST");
}

TEST(Router, PathsLongerThanAnyPatternAreNotFoundAndDeepPatternsAreRefused) {
  router r;
  r.add(verb::get, "/a/b/c/d/e/f/g/{x}", echo("deep"));
  EXPECT_EQ(call(r, verb::get, "/a/b/c/d/e/f/g/h").body(), "deep:h");
  EXPECT_EQ(call(r, verb::get, "/a/b/c/d/e/f/g/h/i").result(), status::not_found);
  EXPECT_EQ(call(r, verb::get, "/" + std::string(200, 'a') + std::string(300, '/')).result(),
            status::not_found);
  EXPECT_THROW(r.add(verb::get, "/1/2/3/4/5/6/7/8/9", echo("too deep")), std::invalid_argument);
}
