// A job through the real service and the bundled mock analyzer, over sockets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "service_fixture.hpp"
#include "sse_client.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;

TEST(EndToEnd, SubmitAnswers202AtOnceAndPollingEndsWith200AndTheResult) {
  running_mock mock({std::chrono::milliseconds(300), 0.0, 1});
  running_service svc(test_config(mock.base_url()));

  auto posted = http_post(svc.port(), "/analyze", R"({"document":"a.pdf"})");
  ASSERT_EQ(posted.status, 202u) << posted.body;
  auto doc = json::parse(posted.body);
  const std::string id = doc["id"];
  EXPECT_EQ(doc["reused"], false);
  EXPECT_TRUE(doc["status"] == "queued" || doc["status"] == "running");
  const std::string expected_url = "http://127.0.0.1/results/" + id;
  EXPECT_EQ(posted.header("Location"), expected_url);
  EXPECT_EQ(posted.header("Operation-Location"), expected_url);
  EXPECT_GE(std::stoi(posted.header("Retry-After")), 1);
  EXPECT_FALSE(posted.header("ETag").empty());
  EXPECT_EQ(posted.header("Content-Type"), "application/json");

  auto running = http_get(svc.port(), "/results/" + id);
  EXPECT_EQ(running.status, 202u);
  EXPECT_GE(std::stoi(running.header("Retry-After")), 1);

  auto done = svc.wait_until_terminal(id);
  ASSERT_EQ(done.status, 200u) << done.body;
  auto final_doc = json::parse(done.body);
  EXPECT_EQ(final_doc["status"], "succeeded");
  EXPECT_EQ(final_doc["result"]["input"]["document"], "a.pdf");
  EXPECT_TRUE(done.header("Retry-After").empty());
  EXPECT_EQ(mock.submits(), 1u);

  // Reading does not delete; the answer is stable.
  auto again = http_get(svc.port(), "/results/" + id);
  EXPECT_EQ(again.status, 200u);
  EXPECT_EQ(again.header("ETag"), done.header("ETag"));
}

TEST(EndToEnd, AFailedAnalysisIs500WithTheJobDocumentAndTheUpstreamError) {
  running_mock mock({std::chrono::milliseconds(50), 1.0, 1});
  running_service svc(test_config(mock.base_url()));
  auto posted = http_post(svc.port(), "/analyze", R"({"x":1})");
  ASSERT_EQ(posted.status, 202u);
  auto done = svc.wait_until_terminal(json::parse(posted.body)["id"]);
  ASSERT_EQ(done.status, 500u);
  EXPECT_EQ(done.header("Content-Type"), "application/json");
  auto doc = json::parse(done.body);
  EXPECT_EQ(doc["status"], "failed");
  EXPECT_EQ(doc["error"]["code"], "upstream_failed");
  EXPECT_EQ(doc["error"]["message"], "mock analyzer failure");
  EXPECT_EQ(doc["error"]["upstream"]["code"], "AnalysisFailed");
  EXPECT_TRUE(done.header("Retry-After").empty());
}

TEST(EndToEnd, UnknownAndMalformedIdsAre404Problems) {
  running_mock mock({});
  running_service svc(test_config(mock.base_url()));
  for (auto id : {"j_AAAAAAAAAAAAAAAAAAAAAA", "nope", "..%2f..%2fetc"}) {
    auto r = http_get(svc.port(), std::string("/results/") + id);
    EXPECT_EQ(r.status, 404u) << id;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    auto p = json::parse(r.body);
    EXPECT_EQ(p["status"], 404);
    EXPECT_EQ(p["type"], "urn:jobrelay:problem:job-not-found");
  }
}

TEST(EndToEnd, ProgressAndEtaAppearWhileRunningAndUpdatedAtMovesOnlyOnChange) {
  running_mock mock({std::chrono::milliseconds(1500), 0.0, 1});
  auto cfg = test_config(mock.base_url());
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  const std::string id = json::parse(posted.body)["id"];
  auto with_progress = svc.wait_for(id, [](const reply& r) {
    auto d = json::parse(r.body);
    return d.contains("progress") && d["progress"].get<double>() > 0.1;
  });
  auto d = json::parse(with_progress.body);
  ASSERT_TRUE(d.contains("progress")) << with_progress.body;
  EXPECT_TRUE(d.contains("eta_seconds"));
  EXPECT_GT(d["elapsed_seconds"].get<double>(), 0.0);
  auto done = svc.wait_until_terminal(id);
  EXPECT_EQ(done.status, 200u);
  EXPECT_NE(done.header("ETag"), with_progress.header("ETag"));
}

TEST(EndToEnd, FullJobTableAnswers503WithRetryAfter) {
  running_mock mock({std::chrono::hours(1), 0.0, 1});
  auto cfg = test_config(mock.base_url());
  cfg.limits.max_jobs = 2;
  running_service svc(cfg);
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);
  auto full = http_post(svc.port(), "/analyze", "{}");
  EXPECT_EQ(full.status, 503u);
  EXPECT_GE(std::stoi(full.header("Retry-After")), 1);
  EXPECT_EQ(json::parse(full.body)["type"], "urn:jobrelay:problem:job-table-full");
  EXPECT_EQ(http_get(svc.port(), "/healthz").status, 200u);
}

// server.public_url makes the absolute URLs; with a path (a proxy that serves
// jobrelay under /jobrelay), Location and every document's links carry it.
TEST(EndToEnd, PublicUrlConfiguresTheAbsoluteUrlsAndTheLinks) {
  running_mock mock({});
  auto cfg = test_config(mock.base_url());
  cfg.server.public_url = "https://api.example.com/jobrelay";
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  ASSERT_EQ(posted.status, 202u);
  const auto doc = json::parse(posted.body);
  const std::string id = doc["id"];
  EXPECT_EQ(posted.header("Location"), "https://api.example.com/jobrelay/results/" + id);
  EXPECT_EQ(doc["links"]["self"], "/jobrelay/results/" + id);
  EXPECT_EQ(doc["links"]["events"], "/jobrelay/results/" + id + "/events");
  const auto got = json::parse(http_get(svc.port(), "/results/" + id).body);
  EXPECT_EQ(got["links"]["self"], "/jobrelay/results/" + id);
  const auto batch = json::parse(http_get(svc.port(), "/results?ids=" + id).body);
  EXPECT_EQ(batch["jobs"][id]["links"]["events"], "/jobrelay/results/" + id + "/events");
}

TEST(EndToEnd, OperationsEndpointsAnswer) {
  running_mock mock({});
  running_service svc(test_config(mock.base_url()));
  auto health = http_get(svc.port(), "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(json::parse(health.body)["status"], "ok");
  EXPECT_EQ(http_get(svc.port(), "/readyz").status, 200u);
  auto stats = json::parse(http_get(svc.port(), "/stats").body);
  EXPECT_TRUE(stats.contains("jobs"));
  EXPECT_TRUE(stats.contains("version"));
}

// Jobs, long polls, event streams and a stop work whatever the number of I/O
// threads: with one, everything runs on one io_context; with four, the POST,
// the event stream and the long poll each land on a context of their own
// (connections take the contexts in turn; the first is also the engine's),
// so the engine's news reaches the stream and the long poll across threads.
class EndToEndThreads : public ::testing::TestWithParam<unsigned> {};

TEST_P(EndToEndThreads, JobsLongPollsAndStreamsWork) {
  running_mock mock({std::chrono::milliseconds(300), 0.0, 1});
  auto cfg = test_config(mock.base_url());
  cfg.server.threads = GetParam();
  running_service svc(cfg);

  const auto posted = http_post(svc.port(), "/analyze", R"({"document":"one"})");
  ASSERT_EQ(posted.status, 202u) << posted.body;
  const std::string id = json::parse(posted.body)["id"];
  sse_client events(svc.port(), "/results/" + id + "/events");
  ASSERT_EQ(events.status(), 200u);
  const auto held = http_get(svc.port(), "/results/" + id + "?wait=10");
  EXPECT_TRUE(held.status == 202u || held.status == 200u) << held.body;
  std::optional<sse_event> last;
  while (auto e = events.next(std::chrono::seconds(5))) last = e;
  EXPECT_TRUE(events.ended());
  ASSERT_TRUE(last.has_value());
  EXPECT_NE(last->data.find("succeeded"), std::string::npos) << last->data;
  EXPECT_EQ(svc.wait_until_terminal(id).status, 200u);
}

INSTANTIATE_TEST_SUITE_P(IoThreads, EndToEndThreads, ::testing::Values(1u, 4u),
                         [](const auto& info) { return std::to_string(info.param) + "Threads"; });
