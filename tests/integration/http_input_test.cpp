// Every kind of bad client input gets a clear answer, the connection is not
// left hanging, and the service keeps serving others.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "jobrelay/http/request_id.hpp"
#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

unsigned status_of(const std::string& raw) {
  if (raw.size() < 12 || raw.rfind("HTTP/1.", 0) != 0) return 0;
  return static_cast<unsigned>(std::stoi(raw.substr(9, 3)));
}

class HttpInput : public ::testing::Test {
 protected:
  static config make_config(const std::string& upstream) {
    auto cfg = test_config(upstream);
    cfg.limits.max_body_bytes = 1024;
    cfg.server.header_timeout_ms = 300;
    cfg.server.idle_timeout_ms = 500;
    return cfg;
  }
  running_mock mock{{}};
  running_service svc{make_config(mock.base_url())};

  void expect_problem(const reply& r, unsigned status, const std::string& type) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    auto p = json::parse(r.body);
    EXPECT_EQ(p["status"], status);
    EXPECT_EQ(p["type"], "urn:jobrelay:problem:" + type);
    EXPECT_FALSE(p["title"].get<std::string>().empty());
    EXPECT_FALSE(p["detail"].get<std::string>().empty());
  }
  void expect_still_serving() {
    auto ok = http_post(svc.port(), "/analyze", R"({"still":"ok"})");
    EXPECT_EQ(ok.status, 202u) << ok.body;
  }
};

}  // namespace

TEST_F(HttpInput, MalformedJsonIs400Problem) {
  expect_problem(http_post(svc.port(), "/analyze", "{not json"), 400, "invalid-body");
  expect_problem(http_post(svc.port(), "/analyze", ""), 400, "invalid-body");
  // Junk after a NUL byte (nlohmann would stop reading there and accept),
  // invalid UTF-8, a lone surrogate escape: not forwarded upstream.
  expect_problem(http_post(svc.port(), "/analyze", std::string("{\"a\":1}\0{\"junk\":true}", 21)),
                 400, "invalid-body");
  expect_problem(http_post(svc.port(), "/analyze", "{\"a\":\"\xc0\xaf\"}"), 400, "invalid-body");
  expect_problem(http_post(svc.port(), "/analyze", R"({"a":"\udc00"})"), 400, "invalid-body");
  expect_still_serving();
}

TEST_F(HttpInput, JsonThatIsNotAnObjectIs400) {
  for (auto body : {"[]", "42", "\"s\"", "null"})
    expect_problem(http_post(svc.port(), "/analyze", body), 400, "invalid-body");
}

TEST_F(HttpInput, DeeplyNestedJsonIs400WithoutCrashing) {
  // Bigger than the body limit would be 413, so nest within it.
  expect_problem(http_post(svc.port(), "/analyze", std::string(1000, '[')), 400, "invalid-body");
  expect_still_serving();
}

TEST_F(HttpInput, WrongContentTypeIs415) {
  expect_problem(http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "text/plain"}}), 415,
                 "unsupported-media-type");
  expect_problem(http_post(svc.port(), "/analyze", "{}", {}), 415, "unsupported-media-type");
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}",
                      {{"Content-Type", "Application/JSON; charset=utf-8"}})
                .status,
            202u);
}

TEST_F(HttpInput, BodyOverTheLimitIs413AndTheConnectionCloses) {
  expect_problem(http_post(svc.port(), "/analyze", "{\"a\":\"" + std::string(2000, 'x') + "\"}"),
                 413, "body-too-large");
  // Chunked bodies are bounded too.
  std::string chunked =
      "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n800\r\n" + std::string(0x800, 'a') + "\r\n0\r\n\r\n";
  auto raw = raw_exchange(svc.port(), chunked);
  EXPECT_EQ(status_of(raw), 413u) << raw.substr(0, 200);
  expect_still_serving();
}

// Beast bounds the head, not a chunk-size line's extensions nor the trailer:
// one that never ends must not grow the read buffer until the deadline.
TEST_F(HttpInput, ChunkExtensionsAndTrailersAreBounded) {
  const std::string head =
      "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  auto raw = raw_exchange(svc.port(), head + "2;ext=" + std::string(64 * 1024, 'x'));
  EXPECT_EQ(status_of(raw), 400u) << raw.substr(0, 300);
  EXPECT_NE(raw.find("chunk-size line or the trailer exceeds 16 KiB"), std::string::npos) << raw;
  raw =
      raw_exchange(svc.port(), head + "2\r\n{}\r\n0\r\nX-Trailer: " + std::string(64 * 1024, 'y'));
  EXPECT_EQ(status_of(raw), 400u) << raw.substr(0, 300);
  // Short extensions and trailers are still fine.
  raw = raw_exchange(svc.port(), head + "2;a=b\r\n{}\r\n0\r\nX-T: 1\r\n\r\n");
  EXPECT_EQ(status_of(raw), 202u) << raw.substr(0, 300);
  expect_still_serving();
}

// RFC 9112 3.2 and 6.1: Host exactly once in HTTP/1.1; a transfer coding we
// do not decode is 501, not a body taken as plain.
TEST_F(HttpInput, HostOnceAndNoCodingButChunked) {
  auto raw = raw_exchange(svc.port(), "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(raw), 400u) << raw;
  EXPECT_NE(raw.find("exactly one Host header"), std::string::npos) << raw;
  raw = raw_exchange(svc.port(),
                     "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(raw), 400u) << raw;
  raw = raw_exchange(svc.port(), "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_of(raw), 200u) << "HTTP/1.0 has no Host requirement: " << raw;
  raw = raw_exchange(svc.port(),
                     "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(raw), 501u) << raw;
  raw = raw_exchange(svc.port(),
                     "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(raw), 202u) << raw;
  expect_still_serving();
}

TEST_F(HttpInput, PostWithoutLengthIs411) {
  auto raw = raw_exchange(svc.port(),
                          "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n");
  EXPECT_EQ(status_of(raw), 411u) << raw;
  EXPECT_NE(raw.find("application/problem+json"), std::string::npos);
}

TEST_F(HttpInput, GarbageIs400AndTheConnectionIsClosed) {
  auto raw = raw_exchange(svc.port(), "THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(status_of(raw), 400u) << raw;
  raw = raw_exchange(svc.port(), std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  EXPECT_EQ(status_of(raw), 400u) << raw;
  expect_still_serving();
}

TEST_F(HttpInput, SmugglingShapesAreRefused) {
  // Content-Length together with Transfer-Encoding.
  auto raw = raw_exchange(svc.port(),
                          "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(raw), 400u) << raw;
  EXPECT_EQ(raw.find("HTTP/1.1 200"), std::string::npos) << "a smuggled request was served";
  // Two different Content-Length values.
  raw = raw_exchange(svc.port(),
                     "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 2\r\nContent-Length: 10\r\n\r\n{}");
  EXPECT_EQ(status_of(raw), 400u) << raw;
  // Transfer-Encoding that is not chunked-last.
  raw = raw_exchange(svc.port(),
                     "POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(raw), 400u) << raw;
  expect_still_serving();
}

TEST_F(HttpInput, AHeadThatNeverEndsIsCutAtTheHeaderDeadline) {
  http_connection slow(svc.port(), 5s);
  // Starts a request and then trickles nothing more: the head deadline
  // (300 ms here) closes the connection, not the idle one.
  auto got = slow.raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  EXPECT_EQ(got.find("200"), std::string::npos);
  expect_still_serving();
}

TEST_F(HttpInput, IdleKeepAliveConnectionsAreClosed) {
  http_connection c(svc.port());
  http::request req{http::verb::get, "/healthz", 11};
  EXPECT_EQ(c.send(req).status, 200u);
  EXPECT_EQ(c.send(req).status, 200u);  // keep-alive: same connection
  EXPECT_TRUE(c.closed_by_peer(3s));
}

// HTTP/1.1 pipelining: requests sent back to back in one write are each
// answered, in order, on the one connection.
TEST_F(HttpInput, PipelinedRequestsAreAnsweredInOrder) {
  const auto raw = raw_exchange(svc.port(),
                                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
                                "GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n"
                                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: third\r\n"
                                "Connection: close\r\n\r\n");
  const auto first = raw.find("X-Request-Id: first");
  const auto second = raw.find("X-Request-Id: second");
  const auto third = raw.find("X-Request-Id: third");
  ASSERT_NE(first, std::string::npos) << raw;
  ASSERT_NE(second, std::string::npos) << raw;
  ASSERT_NE(third, std::string::npos) << raw;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_EQ(status_of(raw), 200u);
  EXPECT_NE(raw.find("HTTP/1.1 404", first), std::string::npos) << raw;
}

// Whether the connection stays open, and what the answer says about it:
// HTTP/1.1 keeps it unless asked to close, HTTP/1.0 only when asked to keep
// it; each version's default goes unsaid. Everything after an answer that
// closes is not read.
TEST_F(HttpInput, ConnectionFieldsAreHonouredAndAnswered) {
  // Three requests in one write: two answered, the one Connection line the
  // answers carry is `connection_line`, and the third request goes unread.
  const auto two_answers_then_close = [&](std::string_view requests, std::string_view status_line,
                                          std::string_view connection_line) {
    const auto raw = raw_exchange(svc.port(), requests);
    const auto count = [&raw](std::string_view what) {
      std::size_t n = 0;
      for (auto at = raw.find(what); at != std::string::npos; at = raw.find(what, at + 1)) ++n;
      return n;
    };
    EXPECT_EQ(count(status_line), 2u) << raw;
    EXPECT_EQ(count(connection_line), 1u) << raw;
    EXPECT_EQ(count("Connection:"), 1u) << raw;
    return raw;
  };
  // 1.0 asking for keep-alive: kept, and told so; then a plain 1.0 request closes.
  two_answers_then_close(
      "GET /healthz HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
      "GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n",
      "HTTP/1.0 200", "Connection: keep-alive\r\n");
  // 1.1: kept without a word; "close" (in any case, among other tokens) closes.
  const auto raw = two_answers_then_close(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: TE, Close\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "HTTP/1.1 200", "Connection: close\r\n");
  EXPECT_LT(raw.find("HTTP/1.1 200"), raw.find("Connection: close")) << raw;
  expect_still_serving();
}

// Expect: 100-continue: the server says "go on" once the head is accepted,
// and the body sent after it is read as usual.
TEST_F(HttpInput, AnExpectedContinueIsSentBeforeTheBodyIsRead) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), svc.port()});
  const std::string body = R"({"doc":1})";
  asio::write(s,
              asio::buffer("POST /analyze HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Expect: 100-continue\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n"));
  std::string got;
  char chunk[512];
  while (got.find("\r\n\r\n") == std::string::npos) {
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(chunk), ec);
    ASSERT_FALSE(ec) << ec.message() << got;
    got.append(chunk, n);
  }
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(s, asio::buffer(body));
  got.clear();
  for (;;) {
    boost::system::error_code ec;
    const auto n = s.read_some(asio::buffer(chunk), ec);
    got.append(chunk, n);
    if (ec || got.find("\r\n\r\n") != std::string::npos) break;
  }
  EXPECT_EQ(status_of(got), 202u) << got;
}

TEST_F(HttpInput, JunkHostIs400) {
  expect_problem(http_post(svc.port(), "/analyze", "{}",
                           {{"Content-Type", "application/json"}, {"Host", "evil host/x"}}),
                 400, "invalid-host");
}

TEST_F(HttpInput, SpoofedForwardedHeadersFromAnUntrustedPeerAreIgnored) {
  auto r = http_post(svc.port(), "/analyze", "{}",
                     {{"Content-Type", "application/json"},
                      {"Host", "real:1"},
                      {"X-Forwarded-Host", "evil.example"},
                      {"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(r.status, 202u);
  EXPECT_EQ(r.header("Location").rfind("http://real:1/results/", 0), 0u) << r.header("Location");
}

TEST_F(HttpInput, UnknownRouteIs404AndWrongMethodIs405WithAllow) {
  expect_problem(http_get(svc.port(), "/nothing-here"), 404, "not-found");
  auto r = http_get(svc.port(), "/analyze");
  expect_problem(r, 405, "method-not-allowed");
  EXPECT_EQ(r.header("Allow"), "POST");
}

// Load balancers and clients probe with HEAD: the head GET would send, with
// its Content-Length, and no body; the connection carries on.
TEST_F(HttpInput, HeadIsGetWithoutTheBody) {
  const auto get = http_get(svc.port(), "/healthz");
  ASSERT_EQ(get.status, 200u);
  auto raw = raw_exchange(svc.port(),
                          "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(status_of(raw), 200u) << raw;
  const auto first_end = raw.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos) << raw;
  const std::string head = raw.substr(0, first_end);
  EXPECT_NE(head.find("Content-Length: " + std::to_string(get.body.size())), std::string::npos)
      << head;
  // The next bytes are the GET's answer, not a body of the HEAD's.
  EXPECT_EQ(raw.compare(first_end + 4, 15, "HTTP/1.1 200 OK"), 0) << raw;
  EXPECT_NE(raw.find(get.body), std::string::npos) << raw;

  // A job document: ETag and the length, no body.
  const auto posted = http_post(svc.port(), "/analyze", "{}");
  const std::string id = json::parse(posted.body)["id"];
  const auto head_of = [&](const std::string& path) {
    return raw_exchange(svc.port(),
                        "HEAD " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  };
  raw = head_of("/results/" + id);
  const auto status = status_of(raw);
  EXPECT_TRUE(status == 200u || status == 202u) << raw;
  EXPECT_NE(raw.find("ETag: \""), std::string::npos) << raw;
  EXPECT_NE(raw.find("Content-Length: "), std::string::npos) << raw;
  EXPECT_EQ(raw.size(), raw.find("\r\n\r\n") + 4) << "a body followed the head: " << raw;
  // An event stream's head, and no events.
  raw = head_of("/results/" + id + "/events");
  EXPECT_EQ(status_of(raw), 200u) << raw;
  EXPECT_NE(raw.find("text/event-stream"), std::string::npos) << raw;
  EXPECT_EQ(raw.find("data:"), std::string::npos) << raw;
  EXPECT_EQ(raw.size(), raw.find("\r\n\r\n") + 4) << raw;
}

TEST(HttpLimits, ConnectionsBeyondMaxConnectionsAreRefused) {
  running_mock mock({});
  auto cfg = test_config(mock.base_url());
  cfg.server.max_connections = 2;
  running_service svc(cfg);
  http_connection a(svc.port()), b(svc.port());
  http::request req{http::verb::get, "/healthz", 11};
  EXPECT_EQ(a.send(req).status, 200u);
  EXPECT_EQ(b.send(req).status, 200u);
  auto refused = raw_exchange(svc.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_of(refused), 503u) << refused;
  const auto split = refused.find("\r\n\r\n");
  ASSERT_NE(split, std::string::npos);
  const auto body = refused.substr(split + 4);
  EXPECT_NE(refused.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos)
      << refused;
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos);
  const auto id_at = refused.find("X-Request-Id: ");
  ASSERT_NE(id_at, std::string::npos) << "every answer carries an X-Request-Id: " << refused;
  EXPECT_TRUE(http::is_valid_request_id(refused.substr(id_at + 14, 32))) << refused;
  EXPECT_EQ(json::parse(body)["status"], 503);
  EXPECT_EQ(a.send(req).status, 200u);  // the open ones are unaffected
  // Counted where an operator looks.
  http::request metrics_req{http::verb::get, "/metrics", 11};
  const auto metrics = a.send(metrics_req).body;
  EXPECT_NE(metrics.find("jobrelay_refused_connections_total 1\n"), std::string::npos) << metrics;
}

// Slowloris: a head trickled a field at a time, each well within any
// deadline, never completes. The head's deadline runs from its first byte
// (300 ms here), not from the last read, and it is not the much longer idle
// one: the server closes the connection long before the trickle would end.
TEST(HttpLimits, AHeadTrickledFieldByFieldIsCutAtTheHeadDeadline) {
  running_mock mock({});
  auto cfg = test_config(mock.base_url());
  cfg.server.header_timeout_ms = 300;
  cfg.server.idle_timeout_ms = 60000;
  running_service svc(cfg);
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), svc.port()});
  asio::write(s, asio::buffer(std::string_view("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
  s.non_blocking(true);
  bool closed = false;
  for (int i = 0; i < 200 && !closed; ++i) {  // up to 10 s of trickling
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    boost::system::error_code ec;
    char byte;
    s.read_some(asio::buffer(&byte, 1), ec);
    if (ec && ec != asio::error::would_block) closed = true;  // EOF or reset: cut
    if (!closed) s.write_some(asio::buffer(std::string_view("X-Slow: y\r\n")), ec);
    if (ec && ec != asio::error::would_block) closed = true;
  }
  EXPECT_TRUE(closed) << "a trickled head kept its connection open";
  EXPECT_EQ(http_get(svc.port(), "/healthz").status, 200u);
}
