// The server's on_answer hook (what the request metrics hang on): called once
// per request its entry handler answered, a handler that threw included.
#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "http_test_client.hpp"
#include "jobrelay/http/router.hpp"
#include "jobrelay/http/server.hpp"
#include "threaded_io.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;

TEST(ServerHooks, OnAnswerSeesEachHandledRequestWithItsRouteAndStatusAThrowingOneAsA500) {
  threaded_io io;
  http::router routes;
  routes.add(http::verb::get, "/ok",
             [](http::request_context&) -> boost::asio::awaitable<http::response> {
               co_return http::response{http::status::ok, 11};
             });
  routes.add(http::verb::get, "/boom",
             [](http::request_context&) -> boost::asio::awaitable<http::response> {
               if (true) throw std::runtime_error("boom");
               co_return http::response{};
             });
  std::mutex mutex;
  std::vector<std::pair<std::string, unsigned>> seen;
  http::server_options options;
  options.listen = "127.0.0.1:0";
  options.on_answer = [&](const http::request_context& ctx, const http::response& res,
                          std::chrono::steady_clock::duration took) {
    EXPECT_GE(took.count(), 0);
    const std::lock_guard lock(mutex);
    seen.emplace_back(std::string(ctx.route), res.result_int());
  };
  http::server server(io, options, routes.as_handler());
  ASSERT_TRUE(server.listen());
  server.start();

  EXPECT_EQ(http_get(server.local_port(), "/ok").status, 200u);
  EXPECT_EQ(http_get(server.local_port(), "/boom").status, 500u);
  EXPECT_EQ(http_get(server.local_port(), "/nope").status, 404u);
  EXPECT_EQ(http_request(server.local_port(), http::verb::get, "no-slash", "", {}).status, 400u);

  server.stop_accepting();
  io.stop_and_join();
  // Called before each answer was written, so all are in; the 400 is the
  // server's own (never routed): not one of them.
  const std::vector<std::pair<std::string, unsigned>> expected{
      {"/ok", 200}, {"/boom", 500}, {"", 404}};
  EXPECT_EQ(seen, expected);
}
