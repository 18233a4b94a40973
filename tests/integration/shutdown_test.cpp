// SIGTERM and SIGINT on the real binary (API.md "Shutdown"): /readyz turns
// 503 at once, also on keep-alive connections already open, which are told
// Connection: close; held long polls and event streams are answered or ended
// cleanly, never cut; the process exits 0. A second signal ends it at once;
// a drain that runs out of time still exits.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <nlohmann/json.hpp>

#include "child_process.hpp"
#include "jobrelay_process.hpp"
#include "fake_upstream.hpp"
#include "service_fixture.hpp"
#include "sse_client.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// The real binary, built beside this test.
struct relay_process : jobrelay::testing::jobrelay_process {
  relay_process(const std::string& upstream, env_list env)
      : jobrelay::testing::jobrelay_process(JOBRELAY_BINARY_DIR "/jobrelay", upstream, std::move(env)) {}
};

std::string submit(unsigned short port) {
  const auto r = http_post(port, "/analyze", R"({"document":"x"})");
  EXPECT_EQ(r.status, 202u) << r.body;
  return nlohmann::json::parse(r.body).value("id", "");
}

// A client that sent a request head and half its body: a request in flight
// that only the header deadline or the drain deadline can end.
struct half_sent_request {
  explicit half_sent_request(unsigned short port) : socket(ioc) {
    asio::connect(socket, std::vector{asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)});
    asio::write(socket, asio::buffer(std::string(
                            "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: 20\r\n\r\n{\"doc")));
  }
  asio::io_context ioc;
  asio::ip::tcp::socket socket;
};

}  // namespace

TEST(Shutdown, SigtermAnswersHeldRequestsTellsKeepAliveClientsAndExitsZero) {
  // An operation that runs without progress: nothing but the drain can end a long poll.
  fake_upstream up([](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    return fake_action::json(200, R"({"status":"running"})");
  });
  relay_process relay(up.base_url(), {{"JOBRELAY_SERVER__DRAIN_DELAY_MS", "1500"},
                                           {"JOBRELAY_SERVER__DRAIN_SECONDS", "10"}});
  ASSERT_NE(relay.port, 0) << relay.proc.output();
  const auto id = submit(relay.port);

  http_connection kept_alive(relay.port);
  jobrelay::http::request ready_probe{jobrelay::http::verb::get, "/readyz", 11};
  ready_probe.set(jobrelay::http::field::host, "x");
  ASSERT_EQ(kept_alive.send(ready_probe).status, 200u);
  http_connection idle(relay.port);  // asks once, then only waits
  ASSERT_EQ(idle.send(ready_probe).status, 200u);

  // Hold the long poll on a job that will not change again: the queued ->
  // running step would answer it before the signal.
  const auto running_deadline = std::chrono::steady_clock::now() + 10s;
  while (http_get(relay.port, "/results/" + id).body.find("\"running\"") == std::string::npos &&
         std::chrono::steady_clock::now() < running_deadline)
    std::this_thread::sleep_for(10ms);
  auto long_poll = std::async(std::launch::async, [&] { return http_get(relay.port, "/results/" + id + "?wait=30"); });
  sse_client events(relay.port, "/results/" + id + "/events");
  ASSERT_EQ(events.status(), 200u);
  ASSERT_TRUE(events.next(5s)) << "the stream's first event";
  ASSERT_TRUE(relay.wait_until_held(1, 1)) << relay.proc.output();

  relay.proc.signal(SIGTERM);
  ASSERT_TRUE(relay.proc.wait_for_output("draining", 5s)) << relay.proc.output();

  // Within the drain delay the open keep-alive connection is still answered.
  const auto probe = kept_alive.send(ready_probe);
  EXPECT_EQ(probe.status, 503u);
  EXPECT_EQ(probe.header("Connection"), "close");
  EXPECT_NE(probe.body.find("draining"), std::string::npos) << probe.body;
  EXPECT_TRUE(kept_alive.closed_by_peer(2s));
  const auto refused = http_post(relay.port, "/analyze", R"({"document":"x"})");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_NE(refused.body.find("draining"), std::string::npos) << refused.body;

  // When the listener closes, held requests get a whole answer at once.
  ASSERT_EQ(long_poll.wait_for(5s), std::future_status::ready);
  const auto answered = long_poll.get();
  EXPECT_EQ(answered.status, 202u);
  EXPECT_EQ(answered.header("Connection"), "close");
  EXPECT_EQ(nlohmann::json::parse(answered.body)["status"], "running") << answered.body;
  while (events.next(5s)) {
  }
  EXPECT_TRUE(events.ended()) << "the event stream ends with its last chunk, not a reset";
  // A connection idle between requests does not hold the drain up: it is closed.
  EXPECT_TRUE(idle.closed_by_peer(5s));

  EXPECT_EQ(relay.proc.wait_exit(10s), 0) << relay.proc.output();
  EXPECT_EQ(relay.proc.output().find("still open after"), std::string::npos) << relay.proc.output();
}

TEST(Shutdown, SigintDrainsTheSameWay) {
  running_mock mock({});
  relay_process relay(mock.base_url(), {});
  ASSERT_NE(relay.port, 0) << relay.proc.output();
  relay.proc.signal(SIGINT);
  EXPECT_EQ(relay.proc.wait_exit(10s), 0) << relay.proc.output();
  EXPECT_NE(relay.proc.output().find("signal 2: draining"), std::string::npos) << relay.proc.output();
}

TEST(Shutdown, ASecondSignalExitsAtOnce) {
  running_mock mock({});
  relay_process relay(mock.base_url(), {{"JOBRELAY_SERVER__DRAIN_SECONDS", "60"},
                                           {"JOBRELAY_SERVER__HEADER_TIMEOUT_MS", "60000"}});
  ASSERT_NE(relay.port, 0) << relay.proc.output();
  half_sent_request in_flight(relay.port);
  ASSERT_TRUE(relay.wait_until_held(0, 0));  // /stats answers: the half request is in its own connection

  relay.proc.signal(SIGTERM);
  ASSERT_TRUE(relay.proc.wait_for_output("draining", 5s)) << relay.proc.output();
  EXPECT_FALSE(relay.proc.wait_exit(300ms)) << "the drain waits for the request in flight";
  relay.proc.signal(SIGTERM);
  EXPECT_EQ(relay.proc.wait_exit(5s), 128 + SIGTERM) << relay.proc.output();
  EXPECT_NE(relay.proc.output().find("second signal 15: exiting at once"), std::string::npos)
      << relay.proc.output();
}

TEST(Shutdown, ADrainThatRunsOutOfTimeStillExitsZero) {
  running_mock mock({});
  relay_process relay(mock.base_url(), {{"JOBRELAY_SERVER__DRAIN_SECONDS", "1"},
                                           {"JOBRELAY_SERVER__HEADER_TIMEOUT_MS", "60000"}});
  ASSERT_NE(relay.port, 0) << relay.proc.output();
  half_sent_request in_flight(relay.port);
  ASSERT_TRUE(relay.wait_until_held(0, 0));
  relay.proc.signal(SIGTERM);
  EXPECT_EQ(relay.proc.wait_exit(10s), 0) << relay.proc.output();
  EXPECT_NE(relay.proc.output().find("still open after 1 s; stopping anyway"), std::string::npos)
      << relay.proc.output();
}

// An upstream call that hangs does not hold the drain: the stopped job's call
// is ended at once (its outcome would be dropped anyway), not after
// upstream.request_timeout_ms.
TEST(Shutdown, AnUpstreamCallThatHangsDoesNotHoldTheDrain) {
  std::atomic<bool> polled{false};
  fake_upstream up([&](const fake_request& r) {
    if (r.method == "POST")
      return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    polled = true;
    return fake_action::hang();
  });
  relay_process relay(up.base_url(), {{"JOBRELAY_UPSTREAM__REQUEST_TIMEOUT_MS", "60000"},
                                         {"JOBRELAY_SERVER__DRAIN_SECONDS", "30"},
                                         {"JOBRELAY_POLLING__UPSTREAM_INITIAL_MS", "20"}});
  ASSERT_NE(relay.port, 0) << relay.proc.output();
  submit(relay.port);
  for (int i = 0; i < 500 && !polled; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(polled);

  const auto signaled = std::chrono::steady_clock::now();
  relay.proc.signal(SIGTERM);
  EXPECT_EQ(relay.proc.wait_exit(20s), 0) << relay.proc.output();
  EXPECT_LT(std::chrono::steady_clock::now() - signaled, 10s);
  EXPECT_EQ(relay.proc.output().find("still open after"), std::string::npos) << relay.proc.output();
}
