// Connections handed to several io_contexts, one thread each
// (server_options::connection_contexts), the way the service runs more than
// one I/O thread: each connection runs on the context whose turn it was, and
// a drain reaches the idle connections of every context.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_test_client.hpp"
#include "jobrelay/http/router.hpp"
#include "jobrelay/http/server.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
namespace asio = boost::asio;

namespace {

std::string thread_name(std::thread::id id) {
  std::ostringstream out;
  out << id;
  return out.str();
}

// Three io_contexts, each run by a thread of its own, and a server whose
// acceptor is on the first and whose connections go to all three in turn.
// GET /thread answers the id of the thread that served it.
class three_contexts : public ::testing::Test {
 protected:
  three_contexts() {
    routes_.add(http::verb::get, "/thread",
                [](http::request_context&) -> asio::awaitable<http::response> {
                  http::response res{http::status::ok, 11};
                  res.body() = thread_name(std::this_thread::get_id());
                  co_return res;
                });
    http::server_options options;
    options.listen = "127.0.0.1:0";
    options.one_thread = true;
    for (auto& c : contexts_) options.connection_contexts.push_back(&c);
    server_ = std::make_unique<http::server>(contexts_[0], options, routes_.as_handler());
    if (!server_->listen()) throw std::runtime_error("cannot listen");
    server_->start();
    for (auto& c : contexts_) {
      work_.emplace_back(c.get_executor());
      threads_.emplace_back([&c] { c.run(); });
    }
  }
  ~three_contexts() override {
    server_->stop_accepting();
    work_.clear();
    for (auto& c : contexts_) c.stop();
    for (auto& t : threads_) t.join();
  }
  unsigned short port() const { return server_->local_port(); }

  asio::io_context contexts_[3]{asio::io_context(1), asio::io_context(1), asio::io_context(1)};
  http::router routes_;
  std::unique_ptr<http::server> server_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

}  // namespace

TEST_F(three_contexts, ConnectionsRunOnTheContextsInTurn) {
  std::vector<std::string> expected;
  for (int round = 0; round < 2; ++round)
    for (const auto& t : threads_) expected.push_back(thread_name(t.get_id()));
  std::vector<std::string> served;
  // One request per connection, each answered before the next connects, so
  // the server accepts them in this order.
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto r = http_get(port(), "/thread");
    ASSERT_EQ(r.status, 200u);
    served.push_back(r.body);
  }
  EXPECT_EQ(served, expected);
}

TEST_F(three_contexts, ADrainClosesTheIdleConnectionsOfEveryContext) {
  std::vector<std::unique_ptr<http_connection>> idle;
  std::vector<std::string> served;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(std::make_unique<http_connection>(port()));
    http::request req{http::verb::get, "/thread", 11};
    req.set(http::field::host, "127.0.0.1");
    const auto r = idle.back()->send(std::move(req));
    ASSERT_EQ(r.status, 200u);
    served.push_back(r.body);
  }
  ASSERT_NE(served[0], served[1]);
  ASSERT_NE(served[1], served[2]);
  ASSERT_NE(served[0], served[2]);
  EXPECT_EQ(server_->open_connections(), 3u);

  server_->close_idle_connections();
  for (auto& c : idle) EXPECT_TRUE(c->closed_by_peer(std::chrono::seconds(5)));
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server_->open_connections() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(server_->open_connections(), 0u);
  // From then on, a connection that would wait for a request is closed,
  // whichever context it lands on.
  for (int i = 0; i < 3; ++i) {
    http_connection late(port());
    EXPECT_TRUE(late.closed_by_peer(std::chrono::seconds(5)));
  }
}
