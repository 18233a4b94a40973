// Clients that ask for a big result and then stop reading: what the socket
// did not take waits in memory, bounded over all connections by
// server.max_pending_write_bytes (a hostile-input audit held ~600 copies of a
// 7 MB result, 1.3 GB, from one address in 30 s).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "fake_upstream.hpp"
#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

double metric(unsigned short port, const std::string& name) {
  const auto text = http_get(port, "/metrics").body;
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

// A connection with a 4 KiB receive window that asks for `target` and reads nothing.
tcp::socket stalled_reader(asio::io_context& ioc, unsigned short port, const std::string& target) {
  tcp::socket s(ioc);
  s.open(tcp::v4());
  s.set_option(asio::socket_base::receive_buffer_size(4096));
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(s, asio::buffer(request));
  return s;
}

}  // namespace

TEST(SlowReaders, AnswersWaitingForThemAreBoundedOverAllConnections) {
  // Bigger than the kernel takes into a socket's send buffer (tcp_wmem: 4 MB at most on
  // Debian), so part of it has to wait in the server's memory.
  const std::string big(12 * 1024 * 1024, 'x');
  fake_upstream up([&](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    return fake_action::json(200, R"({"status":"succeeded","result":")" + big + R"("})");
  });
  auto cfg = test_config(up.base_url());
  cfg.upstream.max_response_bytes = 32 * 1024 * 1024;
  cfg.server.max_pending_write_bytes = 1024 * 1024;
  cfg.server.idle_timeout_ms = 30000;
  running_service svc(cfg);
  const auto posted = http_post(svc.port(), "/analyze", "{}");
  const std::string id = json::parse(posted.body)["id"];
  const auto done = svc.wait_until_terminal(id);
  ASSERT_EQ(done.status, 200u);
  const std::size_t full = done.body.size();
  ASSERT_GT(full, big.size());

  asio::io_context ioc;
  // The first may wait, however big its answer: nothing else does.
  auto first = stalled_reader(ioc, svc.port(), "/results/" + id);
  for (int i = 0; i < 500 && metric(svc.port(), "jobrelay_pending_write_bytes") <= 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_GT(metric(svc.port(), "jobrelay_pending_write_bytes"), 0)
      << "the first reader did not stall";

  // A second would pass the bound: its connection is closed at once, its
  // answer cut short, long before the 30 s idle timeout.
  auto second = stalled_reader(ioc, svc.port(), "/results/" + id);
  for (int i = 0; i < 500 && metric(svc.port(), "jobrelay_slow_readers_closed_total") < 1; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(metric(svc.port(), "jobrelay_slow_readers_closed_total"), 1);
  // What it got before the close, then the end: well before the idle timeout.
  std::size_t got = 0;
  boost::system::error_code ec;
  std::array<char, 65536> chunk;
  while (!ec) got += second.read_some(asio::buffer(chunk), ec);
  EXPECT_EQ(ec, asio::error::eof) << ec.message();
  EXPECT_LT(got, full);

  // Small answers never wait, and the service carries on.
  EXPECT_EQ(http_get(svc.port(), "/healthz").status, 200u);
  first.close();
  for (int i = 0; i < 500 && metric(svc.port(), "jobrelay_pending_write_bytes") > 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(metric(svc.port(), "jobrelay_pending_write_bytes"), 0)
      << "the first one's bytes were not released";
  EXPECT_EQ(http_get(svc.port(), "/results/" + id).body.size(), full);
}
