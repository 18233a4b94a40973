// scripted_upstream is shared test infrastructure; these pin down the behaviour
// other suites rely on, with a bare socket as the client.
#include "scripted_upstream.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <string>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;
using jobrelay::testing::scripted_upstream;
using jobrelay::testing::recorded_request;
using jobrelay::testing::sequence;
using jobrelay::testing::upstream_action;

// A blocking HTTP/1.1 client on one connection, enough to poke the fake.
class raw_client {
 public:
  explicit raw_client(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
  }

  void send_get(const std::string& target) {
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
    asio::write(socket_, asio::buffer(request));
  }

  // Everything until the server closes.
  std::string read_to_close() {
    std::string all;
    boost::system::error_code ec;
    asio::read(socket_, asio::dynamic_buffer(all), ec);
    return all;
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

TEST(FakeUpstream, DestructionIsPromptWithAHungConnectionOpen) {
  auto upstream = std::make_unique<scripted_upstream>(
      [](const recorded_request&) { return upstream_action::hang(); });
  raw_client client(upstream->port());
  client.send_get("/hang");
  ASSERT_TRUE(upstream->wait_for_requests(1));
  EXPECT_EQ(upstream->open_connections(), 1u);

  auto destroyed = std::async(std::launch::async, [&] { upstream.reset(); });
  ASSERT_EQ(destroyed.wait_for(5s), std::future_status::ready);
  // The server's end went with it.
  EXPECT_EQ(client.read_to_close(), "");
}

TEST(FakeUpstream, SequenceAnswersInOrderThenRepeatsTheLast) {
  scripted_upstream upstream(
      sequence({upstream_action::respond(201, "a"), upstream_action::respond(202, "b").closing()}));
  raw_client client(upstream.port());
  client.send_get("/1");
  client.send_get("/2");
  const std::string both = client.read_to_close();
  EXPECT_NE(both.find("HTTP/1.1 201"), std::string::npos) << both;
  EXPECT_NE(both.find("HTTP/1.1 202"), std::string::npos) << both;
  EXPECT_NE(both.find("Connection: close"), std::string::npos) << both;

  raw_client again(upstream.port());
  again.send_get("/3");
  EXPECT_NE(again.read_to_close().find("HTTP/1.1 202"), std::string::npos);
  ASSERT_EQ(upstream.request_count(), 3u);
  EXPECT_EQ(upstream.requests()[1].connection, 1u);
  EXPECT_EQ(upstream.requests()[2].connection, 2u);
  EXPECT_EQ(upstream.accepted_connections(), 2u);
}

TEST(FakeUpstream, CloseAllConnectionsDropsIdleKeepAliveConnections) {
  scripted_upstream upstream;
  raw_client client(upstream.port());
  client.send_get("/");
  ASSERT_TRUE(upstream.wait_for_requests(1));
  upstream.close_all_connections();
  EXPECT_TRUE(upstream.wait_for_open_connections(0));
  EXPECT_NE(client.read_to_close().find("HTTP/1.1 200"), std::string::npos);
}

TEST(FakeUpstream, AThrowingHandlerBecomesA500) {
  scripted_upstream upstream(
      [](const recorded_request&) -> upstream_action { throw std::runtime_error("boom"); });
  raw_client client(upstream.port());
  client.send_get("/");
  ASSERT_TRUE(upstream.wait_for_requests(1));
  upstream.close_all_connections();
  const std::string answer = client.read_to_close();
  EXPECT_NE(answer.find("HTTP/1.1 500"), std::string::npos) << answer;
  EXPECT_NE(answer.find("boom"), std::string::npos) << answer;
}

TEST(FakeUpstream, GarbageAndPartialAreWrittenAsScripted) {
  scripted_upstream upstream(sequence(
      {upstream_action::garbage("NOPE"), upstream_action::partial("{\"a\":", 50).then_close()}));
  raw_client first(upstream.port());
  first.send_get("/");
  EXPECT_EQ(first.read_to_close(), "NOPE");

  raw_client second(upstream.port());
  second.send_get("/");
  const std::string answer = second.read_to_close();
  EXPECT_NE(answer.find("Content-Length: 50\r\n"), std::string::npos) << answer;
  EXPECT_EQ(answer.substr(answer.size() - 5), "{\"a\":");
}

}  // namespace
