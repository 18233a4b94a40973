// The upstream client against scripted_upstream over real loopback sockets.
#include <gtest/gtest.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <future>
#include <map>
#include <thread>
#include <variant>
#include <vector>

#include "jobrelay/upstream/http_client.hpp"
#include "scripted_upstream.hpp"
#include "test_pki.hpp"
#include "threaded_io.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobrelay::errc;
using jobrelay::result;
using jobrelay::testing::certificate_names;
using jobrelay::testing::scripted_upstream;
using jobrelay::testing::recorded_request;
using jobrelay::testing::sequence;
using jobrelay::testing::temp_file;
using jobrelay::testing::test_ca;
using jobrelay::testing::upstream_action;
using jobrelay::upstream::client_options;
using jobrelay::upstream::http_call;
using jobrelay::upstream::http_client;
using jobrelay::upstream::http_reply;

using reply_future = std::future<result<http_reply>>;

::testing::AssertionResult fails_with(const result<http_reply>& r, errc expected) {
  if (r) return ::testing::AssertionFailure() << "succeeded with status " << r->status;
  if (r.error() == make_error_code(expected)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with \"" << r.error().message() << "\" instead of \""
         << make_error_code(expected).message() << "\"";
}

::testing::AssertionResult succeeds(const result<http_reply>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed: " << r.error().message();
}

http_call get(std::string url) {
  http_call call;
  call.url = std::move(url);
  return call;
}

// Short enough that a broken deadline shows up fast, long enough for a loaded
// two-core machine.
client_options test_options() {
  client_options options;
  options.connect_timeout = 2s;
  options.request_timeout = 5s;
  options.max_connections = 8;
  return options;
}

// What a caller with a patience of its own does: race the call against a timer.
asio::awaitable<std::variant<result<http_reply>, std::monostate>> send_or_give_up(
    http_client& client, http_call call, std::chrono::milliseconds patience) {
  using namespace boost::asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, patience);
  co_return co_await (client.send(std::move(call)) || timer.async_wait(asio::use_awaitable));
}

// Calls run on a two-thread io_context, as in the service.
class UpstreamHttpClient : public ::testing::Test {
 protected:
  ~UpstreamHttpClient() override { io_.stop_and_join(); }

  reply_future start(http_client& client, http_call call) {
    // As in the service: each caller on a strand of its own.
    return asio::co_spawn(asio::make_strand(io_), client.send(std::move(call)), asio::use_future);
  }

  static result<http_reply> wait(reply_future& f) {
    if (f.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "call still running after 20 s";
      return make_error_code(boost::system::errc::timed_out);
    }
    return f.get();
  }

  result<http_reply> send(http_client& client, http_call call) {
    auto f = start(client, std::move(call));
    return wait(f);
  }

  http_client make_client(client_options options = test_options()) {
    return http_client(io_.get_executor(), std::move(options));
  }

  jobrelay::testing::threaded_io io_;
};

// ---- round trips -----------------------------------------------------------

TEST_F(UpstreamHttpClient, GetSendsTargetAndHeadersAndReturnsTheReply) {
  scripted_upstream upstream([](const recorded_request&) {
    return upstream_action::respond(200, R"({"state":"done"})").header("X-Reply", "yes");
  });
  auto client = make_client();

  http_call call = get(upstream.url("/jobs/abc?verbose=1"));
  call.headers = {{"Authorization", "Bearer t0k3n"}, {"X-Trace", "1"}, {"X-Trace", "2"}};
  auto reply = send(client, call);

  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(reply->body, R"({"state":"done"})");
  EXPECT_EQ(reply->header("x-reply"), "yes");
  EXPECT_EQ(reply->header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(reply->header("X-Absent"), "");

  auto seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/jobs/abc?verbose=1");
  EXPECT_EQ(seen[0].header("host"), "127.0.0.1:" + std::to_string(upstream.port()));
  EXPECT_EQ(seen[0].header("user-agent"), "jobrelay/0.1");
  EXPECT_EQ(seen[0].header("authorization"), "Bearer t0k3n");
  EXPECT_EQ(seen[0].header("content-type"), "");
  EXPECT_EQ(seen[0].body, "");
  int traces = 0;
  for (const auto& [name, value] : seen[0].headers) traces += name == "X-Trace";
  EXPECT_EQ(traces, 2);
}

TEST_F(UpstreamHttpClient, PostSendsAJsonBody) {
  scripted_upstream upstream([](const recorded_request& r) {
    return upstream_action::respond(202, R"({"echo":)" + r.body + "}").header("Location", "/j/1");
  });
  auto client = make_client();

  http_call call;
  call.method = "POST";
  call.url = upstream.url("/analyze");
  call.body = R"({"text":"hi"})";
  auto reply = send(client, call);

  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->status, 202u);
  EXPECT_EQ(reply->body, R"({"echo":{"text":"hi"}})");
  EXPECT_EQ(reply->header("location"), "/j/1");
  auto seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/analyze");
  EXPECT_EQ(seen[0].body, R"({"text":"hi"})");
  EXPECT_EQ(seen[0].header("content-type"), "application/json");
  EXPECT_EQ(seen[0].header("content-length"), "13");
}

TEST_F(UpstreamHttpClient, ACallsOwnDefaultHeadersReplaceOursOnceAndTheLastOneCounts) {
  scripted_upstream upstream(
      [](const recorded_request&) { return upstream_action::respond(200, "{}"); });
  auto client = make_client();

  http_call call;
  call.method = "POST";
  call.url = upstream.url("/analyze");
  call.body = R"({"a":1})";
  call.headers = {{"content-type", "application/vnd.first+json"},
                  {"X-Trace", "1"},
                  {"User-Agent", "analyzer-client/2"},
                  {"Content-Type", "application/vnd.last+json"}};
  ASSERT_TRUE(succeeds(send(client, call)));

  auto seen = upstream.requests();
  ASSERT_EQ(seen.size(), 1u);
  std::map<std::string, int> count;
  for (const auto& [name, value] : seen[0].headers) ++count[boost::algorithm::to_lower_copy(name)];
  EXPECT_EQ(count["content-type"], 1);
  EXPECT_EQ(count["user-agent"], 1);
  EXPECT_EQ(count["host"], 1);
  EXPECT_EQ(count["content-length"], 1);
  EXPECT_EQ(seen[0].header("content-type"), "application/vnd.last+json");
  EXPECT_EQ(seen[0].header("user-agent"), "analyzer-client/2");
  EXPECT_EQ(seen[0].header("x-trace"), "1");
  EXPECT_EQ(seen[0].header("content-length"), "7");
  EXPECT_EQ(seen[0].body, R"({"a":1})");
}

// The answer's framing other than Content-Length: chunks (with an extension
// and a trailer), and a body that runs until the server closes.
TEST_F(UpstreamHttpClient, AChunkedAnswerAndOneThatRunsToTheCloseArriveWhole) {
  scripted_upstream upstream(
      sequence({upstream_action::garbage(
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: chunked\r\n\r\n"
                    "7;ext=1\r\n{\"a\":\"b\r\n4\r\nc\"}\n\r\n0\r\nX-Trailer: t\r\n\r\n"),
                upstream_action::garbage(
                    "HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n{\"to\":\"the close\"}")}));
  auto client = make_client();

  auto chunked = send(client, get(upstream.url("/1")));
  ASSERT_TRUE(succeeds(chunked));
  EXPECT_EQ(chunked->status, 200u);
  EXPECT_EQ(chunked->body, "{\"a\":\"bc\"}\n");
  EXPECT_EQ(chunked->header("x-kind"), "chunked");

  auto to_close = send(client, get(upstream.url("/2")));
  ASSERT_TRUE(succeeds(to_close));
  EXPECT_EQ(to_close->status, 201u);
  EXPECT_EQ(to_close->body, R"({"to":"the close"})");
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, AnEmptyPathBecomesSlashAndErrorStatusesAreReplies) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::respond(503); });
  auto client = make_client();
  auto reply = send(client, get(upstream.base_url()));
  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->status, 503u);
  ASSERT_EQ(upstream.request_count(), 1u);
  EXPECT_EQ(upstream.requests()[0].target, "/");
}

// ---- the pool ----------------------------------------------------------------

TEST_F(UpstreamHttpClient, SequentialCallsReuseOneKeepAliveConnection) {
  scripted_upstream upstream;
  auto client = make_client();
  ASSERT_TRUE(succeeds(send(client, get(upstream.url("/a")))));
  ASSERT_TRUE(succeeds(send(client, get(upstream.url("/b")))));
  ASSERT_TRUE(succeeds(send(client, get(upstream.url("/c")))));

  EXPECT_EQ(upstream.accepted_connections(), 1u);
  auto seen = upstream.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].connection, 1u);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(UpstreamHttpClient, APooledConnectionTheServerClosedIsReplaced) {
  scripted_upstream upstream(sequence(
      {upstream_action::respond(200, "1").dropping(), upstream_action::respond(200, "2")}));
  auto client = make_client();
  ASSERT_TRUE(succeeds(send(client, get(upstream.url("/")))));
  // The server hangs up after answering, as with an idle timeout.
  ASSERT_TRUE(upstream.wait_for_open_connections(0));

  auto reply = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->body, "2");
  EXPECT_EQ(upstream.accepted_connections(), 2u);
  EXPECT_EQ(upstream.request_count(), 2u);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(UpstreamHttpClient, AReusedConnectionDroppedBeforeAnsweringIsRetriedOnceOnAFreshOne) {
  // The second request arrives on the kept-alive connection and the server
  // drops it unanswered: the client cannot tell that from a stale connection.
  scripted_upstream upstream(sequence({upstream_action::respond(200, "first"), upstream_action::close(),
                                   upstream_action::respond(200, "second")}));
  auto client = make_client();
  ASSERT_TRUE(succeeds(send(client, get(upstream.url("/")))));

  http_call post;
  post.method = "POST";
  post.url = upstream.url("/analyze");
  post.body = "{}";
  auto reply = send(client, post);
  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->body, "second");

  auto seen = upstream.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].connection, 1u);
  EXPECT_EQ(seen[2].connection, 2u);
  EXPECT_EQ(seen[2].body, "{}");
}

TEST_F(UpstreamHttpClient, AFreshConnectionIsNotRetried) {
  scripted_upstream upstream(sequence({upstream_action::close(), upstream_action::respond()}));
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_closed));
  EXPECT_EQ(upstream.request_count(), 1u);
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, ConcurrentCallsNeverOpenMoreThanMaxConnections) {
  scripted_upstream upstream([](const recorded_request& r) {
    return upstream_action::respond(200, r.target).after(100ms);
  });
  auto options = test_options();
  options.max_connections = 2;
  auto client = make_client(options);

  std::vector<reply_future> calls;
  for (int i = 0; i < 5; ++i)
    calls.push_back(start(client, get(upstream.url("/" + std::to_string(i)))));
  for (int i = 0; i < 5; ++i) {
    auto reply = wait(calls[i]);
    ASSERT_TRUE(succeeds(reply)) << "call " << i;
    EXPECT_EQ(reply->status, 200u);
    EXPECT_EQ(reply->body, "/" + std::to_string(i));
  }
  EXPECT_EQ(upstream.request_count(), 5u);
  EXPECT_EQ(upstream.peak_open_connections(), 2u);
  EXPECT_LE(upstream.accepted_connections(), 2u);
  EXPECT_LE(client.open_connections(), 2u);
}

TEST_F(UpstreamHttpClient, WaitingForASlotCountsAgainstTheDeadline) {
  scripted_upstream upstream([](const recorded_request& r) {
    if (r.target == "/hang") return upstream_action::hang();
    return upstream_action::respond(200, "slow").after(700ms);
  });
  auto options = test_options();
  options.max_connections = 1;
  options.request_timeout = 1000ms;
  auto client = make_client(options);

  auto holder = start(client, get(upstream.url("/hang")));
  ASSERT_TRUE(upstream.wait_for_requests(1));
  // Gets the slot only when the holder times out, with little of its own
  // second left: not enough for a 700 ms answer.
  auto waiter = start(client, get(upstream.url("/slow")));
  EXPECT_TRUE(fails_with(wait(holder), errc::upstream_timeout));
  EXPECT_TRUE(fails_with(wait(waiter), errc::upstream_timeout));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, ConnectionCloseAndHttp10AnswersAreNotPooled) {
  scripted_upstream upstream(
      sequence({upstream_action::respond(200, "a").closing(),
                upstream_action::respond(200, "b").http10(), upstream_action::respond(200, "c")}));
  auto client = make_client();
  auto first = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(first));
  EXPECT_EQ(first->body, "a");
  EXPECT_EQ(client.open_connections(), 0u);
  auto second = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(second));
  EXPECT_EQ(second->body, "b");
  EXPECT_EQ(client.open_connections(), 0u);
  auto third = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(third));
  EXPECT_EQ(third->body, "c");
  EXPECT_EQ(upstream.accepted_connections(), 3u);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(UpstreamHttpClient, ShutdownClosesIdleConnectionsAndRefusesNewCalls) {
  scripted_upstream upstream;
  auto client = make_client();
  ASSERT_TRUE(succeeds(send(client, get(upstream.url("/")))));
  ASSERT_EQ(client.open_connections(), 1u);

  client.shutdown();
  EXPECT_EQ(client.open_connections(), 0u);
  EXPECT_TRUE(upstream.wait_for_open_connections(0));
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::shutting_down));
  EXPECT_EQ(upstream.request_count(), 1u);
}

TEST_F(UpstreamHttpClient, ShutdownEndsACallInFlightAndFailsOneWaitingForASlot) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::hang(); });
  auto options = test_options();
  options.max_connections = 1;
  options.request_timeout = 15s;
  auto client = make_client(options);

  auto holder = start(client, get(upstream.url("/hang")));
  ASSERT_TRUE(upstream.wait_for_requests(1));
  auto waiter = start(client, get(upstream.url("/next")));
  client.shutdown();
  // Both long before their deadlines: the waiter gets no slot, and the call in
  // flight has its connection closed (and is not sent again elsewhere).
  ASSERT_EQ(waiter.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(fails_with(waiter.get(), errc::shutting_down));
  ASSERT_EQ(holder.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(fails_with(holder.get(), errc::shutting_down));
  EXPECT_EQ(client.open_connections(), 0u);
  EXPECT_TRUE(upstream.wait_for_open_connections(0));
  EXPECT_EQ(upstream.request_count(), 1u);
}

TEST_F(UpstreamHttpClient, ACallCancelledByItsCallerFreesItsConnection) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::hang(); });
  auto options = test_options();
  options.request_timeout = 15s;
  auto client = make_client(options);

  auto raced =
      asio::co_spawn(asio::make_strand(io_), send_or_give_up(client, get(upstream.url("/")), 200ms), asio::use_future);
  ASSERT_EQ(raced.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(raced.get().index(), 1u);  // the caller's timer won
  // The parallel group waited for the cancelled call to wind up.
  EXPECT_EQ(client.open_connections(), 0u);
  EXPECT_TRUE(upstream.wait_for_open_connections(0));
  EXPECT_EQ(upstream.request_count(), 1u);

  // The pool is fine afterwards.
  upstream.set_handler([](const recorded_request&) { return upstream_action::respond(200, "ok"); });
  auto reply = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->body, "ok");
}

// ---- deadlines -----------------------------------------------------------------

TEST_F(UpstreamHttpClient, AServerThatNeverAnswersTimesOut) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::hang(); });
  auto options = test_options();
  options.request_timeout = 300ms;
  auto client = make_client(options);

  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_timeout));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(client.open_connections(), 0u);
  // The client hung up its end.
  EXPECT_TRUE(upstream.wait_for_open_connections(0));
}

// A pooled connection keeps one deadline timer, armed lazily (connection.hpp):
// these calls come one after another from one coroutine, as the engine's do,
// so a later call finds the wait an earlier one left pending.
asio::awaitable<std::vector<result<http_reply>>> in_turn(http_client& client,
                                                         std::vector<http_call> calls,
                                                         std::chrono::milliseconds pause = 0ms) {
  std::vector<result<http_reply>> out;
  for (auto& call : calls) {
    if (!out.empty() && pause > 0ms) {
      asio::steady_timer timer(co_await asio::this_coro::executor, pause);
      co_await timer.async_wait(asio::use_awaitable);
    }
    auto reply = co_await client.send(std::move(call));
    out.push_back(std::move(reply));
  }
  co_return out;
}

TEST_F(UpstreamHttpClient, AHangOnAConnectionAnEarlierCallArmedTimesOut) {
  scripted_upstream upstream([](const recorded_request& r) {
    return r.target == "/hang" ? upstream_action::hang() : upstream_action::respond(200, "ok");
  });
  auto options = test_options();
  options.request_timeout = 300ms;
  auto client = make_client(options);

  auto done = asio::co_spawn(asio::make_strand(io_),
                             in_turn(client, {get(upstream.url("/a")), get(upstream.url("/b")),
                                              get(upstream.url("/hang"))}),
                             asio::use_future);
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
  const auto replies = done.get();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_TRUE(succeeds(replies[0]));
  EXPECT_TRUE(succeeds(replies[1]));
  EXPECT_TRUE(fails_with(replies[2], errc::upstream_timeout));
  // All three on one connection: the hang met the timer the first call armed.
  EXPECT_EQ(upstream.accepted_connections(), 1u);
  EXPECT_EQ(client.open_connections(), 0u);
  EXPECT_TRUE(upstream.wait_for_open_connections(0));
}

TEST_F(UpstreamHttpClient, ASoonerDeadlineOnAReusedConnectionIsKept) {
  scripted_upstream upstream([](const recorded_request& r) {
    return r.target == "/hang" ? upstream_action::hang() : upstream_action::respond(200, "ok");
  });
  auto options = test_options();
  options.request_timeout = 15s;  // the first call leaves a wait due this late
  auto client = make_client(options);

  auto hang = get(upstream.url("/hang"));
  hang.not_after = std::chrono::steady_clock::now() + 300ms;
  const auto started = std::chrono::steady_clock::now();
  auto done =
      asio::co_spawn(asio::make_strand(io_),
                     in_turn(client, {get(upstream.url("/a")), std::move(hang)}), asio::use_future);
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
  const auto replies = done.get();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(succeeds(replies[0]));
  EXPECT_TRUE(fails_with(replies[1], errc::upstream_timeout));
  // Ended by its own deadline, not by the 15 s one still pending.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(upstream.accepted_connections(), 1u);
}

TEST_F(UpstreamHttpClient, AnIdleConnectionOutlivesTheDeadlineOfItsLastCall) {
  scripted_upstream upstream;
  auto options = test_options();
  options.request_timeout = 200ms;
  auto client = make_client(options);

  // The pause lets the first call's deadline pass while the connection idles.
  auto done = asio::co_spawn(
      asio::make_strand(io_),
      in_turn(client, {get(upstream.url("/a")), get(upstream.url("/b"))}, 600ms), asio::use_future);
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready);
  const auto replies = done.get();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(succeeds(replies[0]));
  EXPECT_TRUE(succeeds(replies[1]));
  EXPECT_EQ(upstream.accepted_connections(), 1u);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(UpstreamHttpClient, HeadersWithoutTheWholeBodyTimeOut) {
  scripted_upstream upstream(
      [](const recorded_request&) { return upstream_action::partial(R"({"state":)", 100); });
  auto options = test_options();
  options.request_timeout = 300ms;
  auto client = make_client(options);
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_timeout));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, ABodyCutShortByACloseIsClosed) {
  scripted_upstream upstream([](const recorded_request&) {
    return upstream_action::partial(R"({"state":)", 100).then_close();
  });
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_closed));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, ABodyDribblingPastTheDeadlineTimesOut) {
  scripted_upstream upstream([](const recorded_request&) {
    return upstream_action::slow_body(std::string(100, 'x'), 20ms);
  });
  auto options = test_options();
  options.request_timeout = 300ms;
  auto client = make_client(options);
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_timeout));
}

TEST_F(UpstreamHttpClient, ASlowBodyWithinTheDeadlineArrivesWhole) {
  const std::string body = R"({"state":"done","result":[1,2,3]})";
  scripted_upstream upstream(
      [&](const recorded_request&) { return upstream_action::slow_body(body, 5ms, 4); });
  auto client = make_client();
  auto reply = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->body, body);
  EXPECT_EQ(client.open_connections(), 1u);
}

TEST_F(UpstreamHttpClient, AConnectThatNeverCompletesIsBoundedByConnectTimeout) {
  // Linux drops SYNs once a listen(0) backlog holds one unaccepted
  // connection, so the next connect hangs: a black hole on loopback.
  asio::io_context scratch;
  asio::ip::tcp::acceptor acceptor(scratch);
  const asio::ip::tcp::endpoint any_port(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(any_port.protocol());
  acceptor.bind(any_port);
  acceptor.listen(0);
  asio::ip::tcp::socket filler(scratch);
  filler.connect(acceptor.local_endpoint());

  auto options = test_options();
  options.connect_timeout = 200ms;
  options.request_timeout = 10s;
  auto client = make_client(options);
  const auto started = std::chrono::steady_clock::now();
  auto url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/";
  EXPECT_TRUE(fails_with(send(client, get(url)), errc::upstream_timeout));
  // Ended by connect_timeout, not by the 10 s request_timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(client.open_connections(), 0u);
}

// ---- broken answers ----------------------------------------------------------------

TEST_F(UpstreamHttpClient, GarbageIsABadResponse) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::garbage(); });
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_bad_response));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, AFewBytesOfGarbageThenACloseIsABadResponse) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::garbage("SSH"); });
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_bad_response));
}

TEST_F(UpstreamHttpClient, ACloseWithoutAnAnswerIsClosed) {
  scripted_upstream upstream([](const recorded_request&) { return upstream_action::close(); });
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_closed));
}

TEST_F(UpstreamHttpClient, ABodyOverTheCapIsTooLarge) {
  scripted_upstream upstream([](const recorded_request& r) {
    return upstream_action::respond(200, std::string(r.target == "/big" ? 5000 : 1000, 'x'));
  });
  auto options = test_options();
  options.max_response_bytes = 1000;
  auto client = make_client(options);
  auto at_cap = send(client, get(upstream.url("/ok")));
  ASSERT_TRUE(succeeds(at_cap));
  EXPECT_EQ(at_cap->body.size(), 1000u);
  EXPECT_TRUE(
      fails_with(send(client, get(upstream.url("/big"))), errc::upstream_response_too_large));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, HugeHeadersAreTooLarge) {
  scripted_upstream upstream([](const recorded_request&) {
    auto action = upstream_action::respond(200, "{}");
    // Beast caps one field at 64 KiB, so the bulk comes in many.
    for (int i = 0; i < 20; ++i)
      action.header("X-Padding-" + std::to_string(i), std::string(5000, 'p'));
    return action;
  });
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_response_too_large));
}

// ---- addresses -----------------------------------------------------------------------

TEST_F(UpstreamHttpClient, ARefusedConnectionIsConnectFailed) {
  std::uint16_t port = 0;
  {
    asio::io_context scratch;
    asio::ip::tcp::acceptor acceptor(scratch, {asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there now
  auto client = make_client();
  EXPECT_TRUE(fails_with(send(client, get("http://127.0.0.1:" + std::to_string(port) + "/")),
                         errc::upstream_connect_failed));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, AnUnresolvableHostIsResolveFailed) {
  auto client = make_client();
  // .invalid is reserved (RFC 6761) never to resolve.
  EXPECT_TRUE(fails_with(send(client, get("http://jobrelay-test.invalid/")),
                         errc::upstream_resolve_failed));
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClient, UrlsThatAreNotHttpAreRejected) {
  auto client = make_client();
  for (const char* url : {"", "http://", "ftp://example.com/", "example.com/path", "not a url",
                          "http://127.0.0.1:99999/", "http://127.0.0.1:0/", "https:///path",
                          "mailto:someone@example.com"}) {
    EXPECT_TRUE(fails_with(send(client, get(url)), errc::upstream_bad_url)) << "url: " << url;
  }
  EXPECT_EQ(client.open_connections(), 0u);
}

// ---- TLS -------------------------------------------------------------------------------

class UpstreamHttpClientTls : public UpstreamHttpClient {
 protected:
  test_ca ca_;
  temp_file ca_file_{ca_.cert_pem()};

  client_options trusting_options() {
    auto options = test_options();
    options.tls_ca_file = ca_file_.path();
    return options;
  }
};

TEST_F(UpstreamHttpClientTls, VerifiedRoundTripWithTheCaFileAndKeepAlive) {
  scripted_upstream upstream(
      [](const recorded_request& r) {
        return upstream_action::respond(200, R"({"secure":")" + r.target + "\"}");
      },
      ca_.issue());
  auto client = make_client(trusting_options());

  auto by_name = send(client, get(upstream.url("/one", "localhost")));
  ASSERT_TRUE(succeeds(by_name));
  EXPECT_EQ(by_name->body, R"({"secure":"/one"})");
  auto again = send(client, get(upstream.url("/two", "localhost")));
  ASSERT_TRUE(succeeds(again));
  EXPECT_EQ(upstream.accepted_connections(), 1u);

  // The certificate also names 127.0.0.1; a new origin, so a new connection.
  auto by_ip = send(client, get(upstream.url("/three")));
  ASSERT_TRUE(succeeds(by_ip));
  EXPECT_EQ(upstream.accepted_connections(), 2u);
  auto seen = upstream.requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].header("host"), "localhost:" + std::to_string(upstream.port()));
  EXPECT_EQ(seen[0].tls_server_name, "localhost");
  EXPECT_EQ(seen[2].tls_server_name, "");  // SNI never carries an address
}

TEST_F(UpstreamHttpClientTls, AnUntrustedCertificateFails) {
  scripted_upstream upstream({}, ca_.issue());
  auto client = make_client();  // the system store does not know our CA
  EXPECT_TRUE(
      fails_with(send(client, get(upstream.url("/", "localhost"))), errc::upstream_tls_failed));
  EXPECT_EQ(upstream.request_count(), 0u);
  EXPECT_EQ(client.open_connections(), 0u);
}

TEST_F(UpstreamHttpClientTls, ACertificateForAnotherNameFails) {
  certificate_names names;
  names.ips.clear();  // localhost only
  scripted_upstream upstream({}, ca_.issue(names));
  auto client = make_client(trusting_options());
  EXPECT_TRUE(fails_with(send(client, get(upstream.url("/"))), errc::upstream_tls_failed));
  EXPECT_EQ(upstream.request_count(), 0u);
  // The same server, asked by the name it has, is fine.
  EXPECT_TRUE(succeeds(send(client, get(upstream.url("/", "localhost")))));
}

TEST_F(UpstreamHttpClientTls, WithoutVerificationAnyCertificateIsAccepted) {
  certificate_names names;
  names.ips.clear();
  scripted_upstream upstream({}, ca_.issue(names));
  auto options = test_options();
  options.tls_verify = false;
  auto client = make_client(options);
  auto reply = send(client, get(upstream.url("/")));
  ASSERT_TRUE(succeeds(reply));
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(upstream.request_count(), 1u);
}

TEST_F(UpstreamHttpClientTls, AnUnreadableCaFileFailsHttpsCalls) {
  scripted_upstream upstream({}, ca_.issue());
  auto options = test_options();
  options.tls_ca_file = "/nonexistent/jobrelay-ca.pem";
  auto client = make_client(options);
  EXPECT_TRUE(
      fails_with(send(client, get(upstream.url("/", "localhost"))), errc::upstream_tls_failed));
}

TEST_F(UpstreamHttpClientTls,
       TheTrustStoreIsLoadedAtStartOnlyWhenAskedAndOtherwiseAtTheFirstHttpsCall) {
  scripted_upstream tls_upstream(
      [](const recorded_request&) { return upstream_action::respond(200, "secure"); }, ca_.issue());
  scripted_upstream plain_upstream(
      [](const recorded_request&) { return upstream_action::respond(200, "plain"); });
  for (const bool at_start : {false, true}) {
    auto options = trusting_options();
    options.tls_at_start = at_start;
    auto client = make_client(options);
    auto plain = send(client, get(plain_upstream.url("/")));
    ASSERT_TRUE(succeeds(plain));
    EXPECT_EQ(plain->body, "plain");
    auto secure = send(client, get(tls_upstream.url("/", "localhost")));
    ASSERT_TRUE(succeeds(secure)) << "tls_at_start " << at_start;
    EXPECT_EQ(secure->body, "secure");
  }
}

TEST_F(UpstreamHttpClientTls, PlainHttpToATlsServerIsNotASuccess) {
  scripted_upstream upstream({}, ca_.issue());
  auto options = test_options();
  options.request_timeout = 1s;
  auto client = make_client(options);
  auto reply = send(client, get("http://127.0.0.1:" + std::to_string(upstream.port()) + "/"));
  EXPECT_FALSE(reply);
}

}  // namespace
