// The client protocol of API.md beyond plain polling: ETag/304, long polls,
// Server-Sent Events, DELETE, batch, Idempotency-Key, gzip, RateLimit.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_upstream.hpp"
#include "service_fixture.hpp"
#include "sse_client.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// An upstream whose one operation runs until the test says `finish`, with
// progress the test can move; it records when it first answered "succeeded".
struct controlled_upstream {
  std::atomic<bool> finished{false};
  std::atomic<int> percent{10};
  std::atomic<clock_type::rep> finished_answer_at{0};
  std::string result = R"({"pages":12})";
  fake_upstream server{[this](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    if (r.method == "DELETE") return fake_action::json(204, "");
    if (finished) {
      clock_type::rep expected = 0;
      finished_answer_at.compare_exchange_strong(expected, clock_type::now().time_since_epoch().count());
      return fake_action::json(200, R"({"status":"succeeded","result":)" + result + "}");
    }
    return fake_action::json(200, R"({"status":"running","percentCompleted":)" + std::to_string(percent.load()) + "}");
  }};
};

struct Service {
  explicit Service(std::function<void(config&)> tweak = {}) : svc(make(up.server.base_url(), tweak)) {}
  static config make(const std::string& base, const std::function<void(config&)>& tweak) {
    auto cfg = test_config(base);
    cfg.polling.upstream_max_ms = 20;
    if (tweak) tweak(cfg);
    return cfg;
  }
  std::string submit(std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"}},
                     std::string body = R"({"doc":1})") {
    auto r = http_post(svc.port(), "/analyze", body, headers);
    EXPECT_EQ(r.status, 202u) << r.body;
    return json::parse(r.body)["id"];
  }
  // Running with the upstream's first progress in: the state stays put from
  // here until the test moves the upstream.
  reply running(const std::string& id) {
    return svc.wait_for(id, [](const reply& r) { return r.body.find("\"progress\"") != std::string::npos; });
  }
  json stats() { return json::parse(http_get(svc.port(), "/stats").body); }
  template <class Pred>
  bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = clock_type::now() + timeout;
    while (!pred()) {
      if (clock_type::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }
  controlled_upstream up;
  running_service svc;
};

std::string gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(in.size() * 20 + 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  inflateEnd(&zs);
  EXPECT_EQ(rc, Z_STREAM_END);
  out.resize(zs.total_out);
  return out;
}

}  // namespace

// ---- ETag / 304 ------------------------------------------------------------

TEST(Etag, MatchingIfNoneMatchIs304WithTheHeadersOfA202) {
  Service t;
  const auto id = t.submit();
  auto first = t.running(id);
  const auto etag = first.header("ETag");
  ASSERT_FALSE(etag.empty());
  auto not_modified = http_get(t.svc.port(), "/results/" + id, {{"If-None-Match", etag}});
  EXPECT_EQ(not_modified.status, 304u);
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(not_modified.header("ETag"), etag);
  EXPECT_GE(std::stoi(not_modified.header("Retry-After")), 1);
  EXPECT_EQ(http_get(t.svc.port(), "/results/" + id, {{"If-None-Match", "\"other\", " + etag}}).status, 304u);
  EXPECT_EQ(http_get(t.svc.port(), "/results/" + id, {{"If-None-Match", "W/" + etag}}).status, 304u);
  EXPECT_EQ(http_get(t.svc.port(), "/results/" + id, {{"If-None-Match", "\"nope\""}}).status, 202u);

  // Many upstream polls that bring nothing new leave the ETag alone.
  const auto polls = t.up.server.count("GET");
  ASSERT_TRUE(t.eventually([&] { return t.up.server.count("GET") >= polls + 10; }));
  EXPECT_EQ(http_get(t.svc.port(), "/results/" + id, {{"If-None-Match", etag}}).status, 304u);

  t.up.finished = true;
  auto done = t.svc.wait_until_terminal(id);
  EXPECT_EQ(done.status, 200u);
  EXPECT_NE(done.header("ETag"), etag);
  auto final_304 = http_get(t.svc.port(), "/results/" + id, {{"If-None-Match", done.header("ETag")}});
  EXPECT_EQ(final_304.status, 304u);
  EXPECT_TRUE(final_304.header("Retry-After").empty());
}

TEST(Etag, ProgressChangesTheEtag) {
  Service t;
  const auto id = t.submit();
  const auto etag = t.running(id).header("ETag");
  t.up.percent = 60;
  auto moved = t.svc.wait_for(id, [&](const reply& r) { return r.header("ETag") != etag; });
  EXPECT_NE(moved.header("ETag"), etag);
  EXPECT_DOUBLE_EQ(json::parse(moved.body)["progress"].get<double>(), 0.6);
}

// ---- Long polls -------------------------------------------------------------

TEST(LongPoll, WokenTheMomentTheUpstreamFinishes) {
  Service t;
  const auto id = t.submit();
  t.running(id);
  reply answer;
  clock_type::time_point answered;
  std::thread poller([&] {
    answer = http_get(t.svc.port(), "/results/" + id + "?wait=20");
    answered = clock_type::now();
  });
  ASSERT_TRUE(t.eventually([&] { return t.stats()["held"]["long_polls"] == 1; }));
  t.up.finished = true;
  poller.join();
  EXPECT_EQ(answer.status, 200u) << answer.body;
  const auto upstream_said = clock_type::time_point(clock_type::duration(t.up.finished_answer_at.load()));
  const auto lag = std::chrono::duration_cast<std::chrono::milliseconds>(answered - upstream_said);
  std::printf("long poll answered %lld ms after the upstream's final answer\n",
              static_cast<long long>(lag.count()));
  EXPECT_LT(lag, 1000ms);  // far below the 20 s wait: woken, not timed out
}

TEST(LongPoll, PreferWaitIsEchoedAndCappedByMaxWait) {
  Service t([](config& c) { c.polling.max_wait_seconds = 1; });
  const auto id = t.submit();
  t.running(id);
  auto started = clock_type::now();
  auto r = http_get(t.svc.port(), "/results/" + id, {{"Prefer", "respond-async, wait=30"}});
  EXPECT_EQ(r.status, 202u);
  EXPECT_EQ(r.header("Preference-Applied"), "wait=1");
  EXPECT_GE(clock_type::now() - started, 900ms);
  EXPECT_LT(clock_type::now() - started, 5s);
  // RFC 7240: names are case-insensitive, "=" may have spaces, values may be quoted.
  r = http_get(t.svc.port(), "/results/" + id, {{"Prefer", "WAIT = \"2\""}});
  EXPECT_EQ(r.header("Preference-Applied"), "wait=1");
  // A wait past what an unsigned holds is capped like any other.
  started = clock_type::now();
  r = http_get(t.svc.port(), "/results/" + id + "?wait=4294967297");
  EXPECT_EQ(r.status, 202u) << r.body;
  EXPECT_GE(clock_type::now() - started, 900ms);
}

TEST(LongPoll, AnswersAtOnceWhenTerminalOrAlreadyDifferent) {
  Service t;
  const auto id = t.submit();
  t.running(id);
  auto started = clock_type::now();
  auto r = http_get(t.svc.port(), "/results/" + id + "?wait=20", {{"If-None-Match", "\"stale\""}});
  EXPECT_EQ(r.status, 202u);
  EXPECT_LT(clock_type::now() - started, 5s);
  t.up.finished = true;
  t.svc.wait_until_terminal(id);
  started = clock_type::now();
  EXPECT_EQ(http_get(t.svc.port(), "/results/" + id + "?wait=20").status, 200u);
  EXPECT_LT(clock_type::now() - started, 5s);
}

TEST(LongPoll, BadWaitIs400) {
  Service t;
  const auto id = t.submit();
  auto r = http_get(t.svc.port(), "/results/" + id + "?wait=soon");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(json::parse(r.body)["type"], "urn:jobrelay:problem:invalid-wait");
}

TEST(LongPoll, AThousandHeldLongPollsAreAllWoken) {
  Service t([](config& c) { c.server.max_connections = 5000; });
  const auto id = t.submit();
  t.running(id);
  constexpr int n = 1000;
  std::atomic<int> ok{0}, done{0};
  boost::asio::io_context client;
  namespace bhttp = boost::beast::http;
  for (int i = 0; i < n; ++i) {
    boost::asio::co_spawn(client, [&]() -> boost::asio::awaitable<void> {
      constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);
      boost::beast::tcp_stream s(client);
      s.expires_after(60s);
      auto [cec] = co_await s.async_connect(
          boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), t.svc.port()), nothrow);
      bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/results/" + id + "?wait=30", 11};
      req.set(bhttp::field::host, "x");
      auto [wec, wn] = co_await bhttp::async_write(s, req, nothrow);
      boost::beast::flat_buffer buf;
      bhttp::response<bhttp::string_body> res;
      auto [rec, rn] = co_await bhttp::async_read(s, buf, res, nothrow);
      if (!cec && !wec && !rec && res.result_int() == 200) ++ok;
      ++done;
    }, boost::asio::detached);
  }
  std::thread runner([&] { client.run(); });
  const bool all_held = t.eventually([&] { return t.stats()["held"]["long_polls"] == n; }, 30s);
  t.up.finished = true;
  runner.join();
  EXPECT_TRUE(all_held);
  EXPECT_EQ(done.load(), n);
  EXPECT_EQ(ok.load(), n);
  EXPECT_EQ(t.stats()["held"]["long_polls"], 0);
}

// ---- Server-Sent Events -----------------------------------------------------

TEST(Events, StreamSendsTheJobNowAndOnEveryChangeThenEnds) {
  Service t;
  const auto id = t.submit();
  auto current = t.running(id);
  sse_client sse(t.svc.port(), "/results/" + id + "/events");
  ASSERT_EQ(sse.status(), 200u);
  EXPECT_EQ(sse.header("Content-Type"), "text/event-stream");
  auto first = sse.next();
  ASSERT_TRUE(first);
  EXPECT_GE(sse.retry_ms().value_or(0), 1000);
  auto first_doc = json::parse(first->data);
  EXPECT_EQ(first_doc["id"], id);
  EXPECT_EQ(first_doc["status"], "running");
  const auto etag = current.header("ETag");
  EXPECT_EQ("\"" + first->id + "\"", etag);
  t.up.percent = 70;
  auto second = sse.next();
  ASSERT_TRUE(second);
  EXPECT_DOUBLE_EQ(json::parse(second->data)["progress"].get<double>(), 0.7);
  t.up.finished = true;
  std::optional<sse_event> last;
  while (auto e = sse.next()) last = e;
  ASSERT_TRUE(last);
  EXPECT_EQ(json::parse(last->data)["status"], "succeeded");
  EXPECT_EQ(json::parse(last->data)["result"]["pages"], 12);
  EXPECT_TRUE(sse.ended());
}

TEST(Events, ResumeWithLastEventIdSkipsTheUnchangedFirstEvent) {
  Service t;
  const auto id = t.submit();
  const auto etag = t.running(id).header("ETag");
  const auto unquoted = etag.substr(1, etag.size() - 2);
  sse_client sse(t.svc.port(), "/results/" + id + "/events", {{"Last-Event-ID", unquoted}});
  ASSERT_EQ(sse.status(), 200u);
  EXPECT_FALSE(sse.next(300ms));  // nothing new yet
  t.up.percent = 80;
  auto e = sse.next();
  ASSERT_TRUE(e);
  EXPECT_NE(e->id, unquoted);
}

TEST(Events, AReconnectAfterTheTerminalEventGets204) {
  Service t;
  const auto id = t.submit();
  t.up.finished = true;
  auto done = t.svc.wait_until_terminal(id);
  const auto etag = done.header("ETag");
  sse_client replay(t.svc.port(), "/results/" + id + "/events");
  auto e = replay.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(json::parse(e->data)["status"], "succeeded");
  EXPECT_FALSE(replay.next());
  EXPECT_TRUE(replay.ended());
  sse_client reconnect(t.svc.port(), "/results/" + id + "/events",
                       {{"Last-Event-ID", etag.substr(1, etag.size() - 2)}});
  EXPECT_EQ(reconnect.status(), 204u);
  sse_client unknown(t.svc.port(), "/results/j_AAAAAAAAAAAAAAAAAAAAAA/events");
  EXPECT_EQ(unknown.status(), 404u);
}

TEST(Events, IdleStreamsGetKeepAliveComments) {
  Service t([](config& c) { c.server.sse_keepalive_ms = 50; });
  const auto id = t.submit();
  t.running(id);
  sse_client sse(t.svc.port(), "/results/" + id + "/events");
  ASSERT_TRUE(sse.next());
  EXPECT_FALSE(sse.next(400ms));
  EXPECT_GE(sse.comments(), 2);
}

TEST(Events, AReaderThatStopsReadingIsDroppedNotBuffered) {
  Service t([](config& c) {
    c.server.idle_timeout_ms = 300;
    c.upstream.max_response_bytes = 16 << 20;
  });
  t.up.result = "\"" + std::string(8 << 20, 'x') + "\"";  // far more than socket buffers hold
  const auto id = t.submit();
  t.running(id);
  sse_client stalled(t.svc.port(), "/results/" + id + "/events", {}, /*receive_buffer_bytes=*/4096);
  ASSERT_EQ(stalled.status(), 200u);
  ASSERT_TRUE(t.eventually([&] { return t.stats()["held"]["event_streams"] == 1; }));
  t.up.finished = true;  // the terminal event is 8 MB; the reader takes none of it
  EXPECT_TRUE(t.eventually([&] { return t.stats()["held"]["event_streams"] == 0; }, 20s))
      << "the server kept a stalled stream";
  EXPECT_EQ(http_get(t.svc.port(), "/healthz").status, 200u);
}

// ---- large answers -----------------------------------------------------------

// An answer far larger than the socket's send buffer: the server writes what
// fits at once and the rest as the client reads. Every byte arrives, in order.
TEST(LargeAnswer, AResultLargerThanTheSocketBuffersArrivesWhole) {
  Service t([](config& c) { c.upstream.max_response_bytes = 16 << 20; });
  std::string text(6 << 20, ' ');
  for (std::size_t i = 0; i < text.size(); ++i)
    text[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  t.up.result = "\"" + text + "\"";
  const auto id = t.submit();
  t.running(id);
  t.up.finished = true;
  const auto done = t.svc.wait_for(id, [](const reply& r) { return r.status == 200u; });
  ASSERT_EQ(done.status, 200u);
  const auto again = http_get(t.svc.port(), "/results/" + id);
  ASSERT_EQ(again.status, 200u);
  EXPECT_EQ(again.header("Content-Length"), std::to_string(again.body.size()));
  const auto doc = json::parse(again.body);
  EXPECT_TRUE(doc["result"] == text) << "the result arrived altered";
}

// ---- DELETE -----------------------------------------------------------------

TEST(Delete, CancelsARunningJobUpstreamAndForgetsIt) {
  Service t;
  const auto id = t.submit();
  t.running(id);
  auto r = http_request(t.svc.port(), http::verb::delete_, "/results/" + id, "", {});
  EXPECT_EQ(r.status, 204u);
  EXPECT_EQ(http_get(t.svc.port(), "/results/" + id).status, 404u);
  EXPECT_EQ(http_request(t.svc.port(), http::verb::delete_, "/results/" + id, "", {}).status, 404u);
  EXPECT_TRUE(t.eventually([&] { return t.up.server.count("DELETE", "/ops/1") == 1; }));
  const auto polls = t.up.server.count("GET");
  std::this_thread::sleep_for(100ms);  // a canceled job must not poll again
  EXPECT_EQ(t.up.server.count("GET"), polls);
}

TEST(Delete, RacingTheJobsCompletionEndsIn404EitherWay) {
  for (int i = 0; i < 20; ++i) {
    Service t;
    const auto id = t.submit();
    t.running(id);
    std::thread finisher([&] { t.up.finished = true; });
    auto r = http_request(t.svc.port(), http::verb::delete_, "/results/" + id, "", {});
    finisher.join();
    EXPECT_TRUE(r.status == 204u || r.status == 404u) << r.status;
    EXPECT_EQ(http_get(t.svc.port(), "/results/" + id).status, 404u);
    std::this_thread::sleep_for(30ms);  // a late publish must not resurrect it
    EXPECT_EQ(http_get(t.svc.port(), "/results/" + id).status, 404u);
  }
}

// ---- Batch ------------------------------------------------------------------

TEST(Batch, KnownJobsWithoutResultAndTheMissing) {
  Service t;
  t.up.finished = true;
  const auto a = t.submit(), b = t.submit();
  t.svc.wait_until_terminal(a);
  t.svc.wait_until_terminal(b);
  const std::string unknown = "j_AAAAAAAAAAAAAAAAAAAAAA";
  auto r = http_get(t.svc.port(), "/results?ids=" + a + "," + b + "%2C" + unknown);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto doc = json::parse(r.body);
  EXPECT_EQ(doc["jobs"].size(), 2u);
  EXPECT_EQ(doc["jobs"][a]["status"], "succeeded");
  EXPECT_FALSE(doc["jobs"][a].contains("result"));
  EXPECT_EQ(doc["missing"], json::array({unknown}));
}

TEST(Batch, TooManyOrNoneIs400) {
  Service t;
  std::string ids;
  for (int i = 0; i < 101; ++i) ids += (i ? "," : "") + std::string("j_AAAAAAAAAAAAAAAAAAAA") + char('A' + i / 26) + char('A' + i % 26);
  for (auto target :
       {"/results?ids=" + ids, std::string("/results"), std::string("/results?ids=")}) {
    auto r = http_get(t.svc.port(), target);
    EXPECT_EQ(r.status, 400u) << target.substr(0, 60);
    EXPECT_EQ(json::parse(r.body)["type"], "urn:jobrelay:problem:invalid-batch");
  }
}

// One stale or garbled id must not cost a client the rest: it is missing,
// as GET /results/{id} answers it 404. Big answers are gzip'd like a job's.
TEST(Batch, AMalformedIdIsMissingAndABigAnswerIsGzipped) {
  Service t;
  t.up.finished = true;
  const auto a = t.submit();
  t.svc.wait_until_terminal(a);
  auto r = http_get(t.svc.port(), "/results?ids=" + a + ",../etc,j_%22x");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto doc = json::parse(r.body);
  EXPECT_EQ(doc["jobs"].size(), 1u);
  EXPECT_EQ(doc["missing"], json::array({"../etc", "j_%22x"}));
  std::string many = a;
  for (int i = 0; i < 60; ++i)
    many += ",j_AAAAAAAAAAAAAAAAAAAA" + std::string{char('A' + i / 26), char('A' + i % 26)};
  r = http_get(t.svc.port(), "/results?ids=" + many, {{"Accept-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("Content-Encoding"), "gzip");
  EXPECT_EQ(r.header("Vary"), "Accept-Encoding");
}

// ---- Idempotency-Key --------------------------------------------------------

TEST(Idempotency, SameKeySameBodyReturnsTheJobWithTheStatusGetWouldGive) {
  Service t;
  const std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"},
                                                              {"Idempotency-Key", "order-42"}};
  auto first = http_post(t.svc.port(), "/analyze", R"({"doc":1})", h);
  ASSERT_EQ(first.status, 202u);
  const std::string id = json::parse(first.body)["id"];
  auto again = http_post(t.svc.port(), "/analyze", R"({"doc":1})", h);
  EXPECT_EQ(again.status, 202u);
  EXPECT_EQ(json::parse(again.body)["id"], id);
  EXPECT_EQ(json::parse(again.body)["reused"], true);
  t.up.finished = true;
  t.svc.wait_until_terminal(id);
  auto after = http_post(t.svc.port(), "/analyze", R"({"doc":1})", h);
  EXPECT_EQ(after.status, 200u);
  EXPECT_EQ(json::parse(after.body)["reused"], true);
  EXPECT_EQ(after.header("Location").substr(after.header("Location").rfind('/') + 1), id);
  EXPECT_EQ(t.up.server.count("POST"), 1u);

  auto conflict = http_post(t.svc.port(), "/analyze", R"({"doc":2})", h);
  EXPECT_EQ(conflict.status, 422u);
  EXPECT_EQ(json::parse(conflict.body)["type"], "urn:jobrelay:problem:idempotency-key-reused");
}

TEST(Idempotency, ConcurrentFirstRequestsCreateExactlyOneJob) {
  Service t;
  std::vector<std::thread> threads;
  std::vector<std::string> ids(16);
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] {
      auto r = http_post(t.svc.port(), "/analyze", R"({"doc":"same"})",
                         {{"Content-Type", "application/json"}, {"Idempotency-Key", "k-concurrent"}});
      ids[i] = json::parse(r.body)["id"];
    });
  for (auto& th : threads) th.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_TRUE(t.eventually([&] { return t.up.server.count("POST") >= 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(t.up.server.count("POST"), 1u);
}

TEST(Idempotency, MalformedKeysAre400AndKeysAreScopedPerClient) {
  Service t([](config& c) { c.server.trusted_proxies = {"127.0.0.1/32"}; });
  for (std::string bad : {std::string(""), std::string(256, 'k'), std::string("has space"), std::string("caf\xc3\xa9")}) {
    auto r = http_post(t.svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, {"Idempotency-Key", bad}});
    EXPECT_EQ(r.status, 400u) << bad;
  }
  // Sent twice, even with the same value or with other fields between: which
  // one would the client mean? (Raw bytes: the test client keeps one of each.)
  for (const char* second : {"order-7", "order-8"}) {
    const std::string answer = raw_exchange(
        t.svc.port(),
        std::string("POST /analyze HTTP/1.1\r\nHost: x\r\nIdempotency-Key: order-7\r\n"
                    "Content-Type: application/json\r\nX-Other: x\r\nIdempotency-Key: ") +
            second + "\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("invalid-idempotency-key"), std::string::npos) << answer;
  }
  auto as = [&](const char* client) {
    auto r = http_post(t.svc.port(), "/analyze", "{}",
                       {{"Content-Type", "application/json"}, {"Idempotency-Key", "shared"}, {"X-Forwarded-For", client}});
    return json::parse(r.body)["id"].get<std::string>();
  };
  EXPECT_NE(as("198.51.100.1"), as("198.51.100.2"));
  EXPECT_EQ(as("198.51.100.1"), as("198.51.100.1"));
}

// ---- gzip -------------------------------------------------------------------

// The first gzip answer is encoded for that request, the second is kept,
// the third is served from what was kept: all three the same bytes.
TEST(Gzip, LargeDocumentsAreCompressedAndRoundTrip) {
  Service t;
  t.up.result = R"({"text":")" + std::string(5000, 'a') + R"("})";
  t.up.finished = true;
  const auto id = t.submit();
  auto plain = t.svc.wait_until_terminal(id);
  ASSERT_EQ(plain.status, 200u);
  EXPECT_TRUE(plain.header("Content-Encoding").empty());
  EXPECT_NE(plain.header("Vary").find("Accept-Encoding"), std::string::npos);
  auto zipped = http_get(t.svc.port(), "/results/" + id, {{"Accept-Encoding", "br;q=1, gzip;q=0.8"}});
  EXPECT_EQ(zipped.header("Content-Encoding"), "gzip");
  EXPECT_LT(zipped.body.size(), plain.body.size() / 4);
  EXPECT_EQ(gunzip(zipped.body), plain.body);
  for (int i = 0; i < 2; ++i) {
    auto again = http_get(t.svc.port(), "/results/" + id, {{"Accept-Encoding", "gzip"}});
    EXPECT_EQ(again.header("Content-Encoding"), "gzip");
    EXPECT_EQ(again.body, zipped.body);
  }
  EXPECT_TRUE(http_get(t.svc.port(), "/results/" + id, {{"Accept-Encoding", "gzip;q=0"}})
                  .header("Content-Encoding").empty());
}

TEST(Gzip, SmallDocumentsAreNotCompressed) {
  Service t;
  const auto id = t.submit();
  auto r = http_get(t.svc.port(), "/results/" + id, {{"Accept-Encoding", "gzip"}});
  EXPECT_TRUE(r.header("Content-Encoding").empty());
}

// ---- RateLimit headers --------------------------------------------------------

TEST(RateLimitHeaders, PolicyAndRemainingFollowTheLimiter) {
  Service t([](config& c) { c.rate_limit.poll = {1, 3}; });
  const auto id = t.submit();
  for (int remaining = 2; remaining >= 0; --remaining) {
    auto r = http_get(t.svc.port(), "/results/" + id);
    EXPECT_EQ(r.header("RateLimit-Policy"), "\"poll\";q=3;w=3");
    EXPECT_EQ(r.header("RateLimit").rfind("\"poll\";r=" + std::to_string(remaining) + ";t=", 0), 0u)
        << r.header("RateLimit");
  }
  auto refused = http_get(t.svc.port(), "/results/" + id);
  EXPECT_EQ(refused.status, 429u);
  EXPECT_EQ(refused.header("RateLimit"), "\"poll\";r=0;t=" + refused.header("Retry-After"));
  EXPECT_TRUE(http_get(t.svc.port(), "/healthz").header("RateLimit").empty());
}
