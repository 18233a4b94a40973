// Several jobrelay processes sharing one real redis-server (API.md
// "Scale-out"): a job submitted on one replica is seen on the others, a long
// poll or event stream held on a third wakes on the change, a replica killed
// with SIGKILL mid-job has its job finished by another with no second upstream
// submit, a restarted single replica resumes its jobs, Redis restarting
// mid-run costs 503s but no job, and idempotency keys, cancels and link
// tokens work across replicas. The upstream is an in-test fake whose jobs end
// when the test says so, and which counts every submit.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_upstream.hpp"
#include "http_test_client.hpp"
#include "jobrelay_process.hpp"
#include "redis_server.hpp"
#include "sse_client.hpp"

using namespace jobrelay::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
using steady = std::chrono::steady_clock;

namespace {

// Operations run until finish() is called; each submit gets its own.
struct controllable_upstream {
  controllable_upstream()
      : fake([this](const fake_request& r) {
          if (r.method == "POST") {
            const auto n = ++operations;
            return fake_action::json(202, "", {{"Operation-Location", "/ops/" + std::to_string(n)}});
          }
          if (r.method == "DELETE") return fake_action::json(204, "");
          if (finished) return fake_action::json(200, R"({"status":"succeeded","result":{"pages":3}})");
          return fake_action::json(200, R"({"status":"running","percentCompleted":10})");
        }) {}
  void finish() { finished = true; }
  std::size_t submits() const { return fake.count("POST"); }
  std::size_t polls() const { return fake.count("GET", "/ops/"); }

  std::atomic<int> operations{0};
  std::atomic<bool> finished{false};
  fake_upstream fake;
};

struct replica : jobrelay_process {
  replica(const std::string& upstream, const std::string& redis_url, env_list extra = {})
      : jobrelay_process(JOBRELAY_BINARY_DIR "/jobrelay", upstream, env(redis_url, std::move(extra))) {}

  static env_list env(const std::string& redis_url, env_list extra) {
    env_list e{{"JOBRELAY_STORE__BACKEND", "redis"},
               {"JOBRELAY_STORE__REDIS_URL", redis_url},
               {"JOBRELAY_STORE__LEASE_MS", "1000"},
               {"JOBRELAY_AUTH__LINK_SECRET", "shared-secret-of-the-test"},
               {"JOBRELAY_POLLING__UPSTREAM_INITIAL_MS", "50"},
               {"JOBRELAY_POLLING__UPSTREAM_BACKOFF", "1"},
               {"JOBRELAY_POLLING__UPSTREAM_MAX_MS", "50"},
               {"JOBRELAY_SERVER__DRAIN_SECONDS", "2"}};
    e.insert(e.end(), extra.begin(), extra.end());
    return e;
  }
};

std::string submit(unsigned short port, std::vector<std::pair<std::string, std::string>> headers = {
                                            {"Content-Type", "application/json"}}) {
  const auto r = http_post(port, "/analyze", R"({"document":"x"})", std::move(headers));
  EXPECT_EQ(r.status, 202u) << r.body;
  return json::parse(r.body, nullptr, false).value("id", "");
}

// Polls `port` until the job's GET gives `status` (or 20 s pass).
reply wait_for_status(unsigned short port, const std::string& path, unsigned status) {
  const auto deadline = steady::now() + 20s;
  reply r;
  do {
    r = http_get(port, path);
    if (r.status == status) return r;
    std::this_thread::sleep_for(20ms);
  } while (steady::now() < deadline);
  return r;
}

reply wait_until_running(unsigned short port, const std::string& id) {
  const auto deadline = steady::now() + 20s;
  reply r;
  do {
    r = http_get(port, "/results/" + id);
    if (r.body.find("\"running\"") != std::string::npos) return r;
    std::this_thread::sleep_for(20ms);
  } while (steady::now() < deadline);
  return r;
}

#define REQUIRE_REDIS()                                                          \
  if (!redis_server::available()) GTEST_SKIP() << "redis-server is not installed " \
                                                  "(scripts/install-deps.sh --test installs it)"

}  // namespace

TEST(ScaleOut, AJobSubmittedOnOneReplicaIsSeenOnTheOthersAndWaitersThereWakeOnItsChange) {
  REQUIRE_REDIS();
  redis_server redis;
  controllable_upstream up;
  replica a(up.fake.base_url(), redis.url()), b(up.fake.base_url(), redis.url()), c(up.fake.base_url(), redis.url());
  ASSERT_NE(a.port, 0) << a.proc.output();
  ASSERT_NE(b.port, 0) << b.proc.output();
  ASSERT_NE(c.port, 0) << c.proc.output();
  const auto pollers = [](unsigned short port) {
    return json::parse(http_get(port, "/stats").body)["jobs"]["active_pollers"].get<int>();
  };
  EXPECT_EQ(pollers(a.port), 0) << "the lease keeping is not a job";

  const auto id = submit(a.port);
  ASSERT_FALSE(id.empty());
  auto seen_on_b = wait_until_running(b.port, id);
  EXPECT_EQ(pollers(a.port), 1);
  EXPECT_EQ(pollers(b.port), 0);
  ASSERT_EQ(seen_on_b.status, 202u) << seen_on_b.body;  // not 404: b reads the shared store
  EXPECT_FALSE(seen_on_b.header("ETag").empty());

  // A long poll on c and an event stream on b, both on a job a polls. The
  // job first settles (the first poll's progress is stored; later polls
  // change nothing), so only the end can wake them.
  for (const auto until = steady::now() + 10s;
       http_get(c.port, "/results/" + id).body.find("\"progress\":0.1") == std::string::npos && steady::now() < until;)
    std::this_thread::sleep_for(10ms);
  const auto etag = http_get(c.port, "/results/" + id).header("ETag");
  auto long_poll = std::async(std::launch::async, [&] {
    return http_get(c.port, "/results/" + id + "?wait=20", {{"If-None-Match", etag}});
  });
  sse_client events(b.port, "/results/" + id + "/events");
  ASSERT_EQ(events.status(), 200u);
  ASSERT_TRUE(events.next(5s)) << "the stream's first event";
  ASSERT_TRUE(c.wait_until_held(1, 0)) << c.proc.output();

  const auto changed_at = steady::now();
  up.finish();
  ASSERT_EQ(long_poll.wait_for(15s), std::future_status::ready) << "the long poll on c never woke";
  const auto answered = long_poll.get();
  const auto woke_after = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - changed_at);
  EXPECT_EQ(answered.status, 200u) << answered.body;
  EXPECT_NE(answered.body.find("\"pages\":3"), std::string::npos) << answered.body;
  // Not a timing assertion: what the wake took, upstream poll included, for the log.
  std::printf("long poll on c answered %lld ms after the upstream finished\n",
              static_cast<long long>(woke_after.count()));

  bool terminal_event = false;
  for (int i = 0; i < 5 && !terminal_event; ++i) {
    auto ev = events.next(10s);
    ASSERT_TRUE(ev) << "the stream on b missed the change";
    terminal_event = ev->data.find("\"succeeded\"") != std::string::npos;
  }
  EXPECT_TRUE(terminal_event);
  EXPECT_EQ(up.submits(), 1u);
}

TEST(ScaleOut, AReplicaKilledMidJobHasItsJobFinishedByAnotherWithOneUpstreamSubmit) {
  REQUIRE_REDIS();
  redis_server redis;
  controllable_upstream up;
  auto a = std::make_unique<replica>(up.fake.base_url(), redis.url());
  replica b(up.fake.base_url(), redis.url()), c(up.fake.base_url(), redis.url());
  ASSERT_NE(a->port, 0) << a->proc.output();

  const auto id = submit(a->port);  // a holds the lease: it polls
  ASSERT_EQ(wait_until_running(b.port, id).status, 202u);
  a->proc.signal(SIGKILL);
  ASSERT_TRUE(a->proc.wait_exit(5s));
  a.reset();

  // The lease lapses (1 s); b or c takes the job over from its stored
  // operation URL and polls on.
  const auto polls_at_kill = up.polls();
  const auto deadline = steady::now() + 15s;
  while (up.polls() == polls_at_kill && steady::now() < deadline) std::this_thread::sleep_for(20ms);
  ASSERT_GT(up.polls(), polls_at_kill) << "nobody took the job over";
  up.finish();
  const auto done = wait_for_status(c.port, "/results/" + id, 200);
  EXPECT_EQ(done.status, 200u) << done.body;
  EXPECT_NE(done.body.find("\"pages\":3"), std::string::npos);
  EXPECT_EQ(up.submits(), 1u) << "the job was submitted upstream again";
  EXPECT_TRUE(b.proc.output().find("taken over") != std::string::npos ||
              c.proc.output().find("taken over") != std::string::npos);
}

TEST(ScaleOut, ARestartedSingleReplicaResumesItsUnfinishedJobs) {
  REQUIRE_REDIS();
  redis_server redis;
  controllable_upstream up;
  std::string id;
  {
    replica only(up.fake.base_url(), redis.url());
    ASSERT_NE(only.port, 0) << only.proc.output();
    id = submit(only.port);
    ASSERT_EQ(wait_until_running(only.port, id).status, 202u);
    only.proc.signal(SIGKILL);
    ASSERT_TRUE(only.proc.wait_exit(5s));
  }
  up.finish();
  replica again(up.fake.base_url(), redis.url());
  ASSERT_NE(again.port, 0) << again.proc.output();
  const auto done = wait_for_status(again.port, "/results/" + id, 200);
  EXPECT_EQ(done.status, 200u) << done.body << again.proc.output();
  EXPECT_EQ(up.submits(), 1u);
}

TEST(ScaleOut, ReplicasSayUnavailableWhileRedisIsDownAndRecoverWhenItReturns) {
  REQUIRE_REDIS();
  // Redis with its append-only file, as in production: a restart keeps the jobs.
  struct temp_dir {
    temp_dir() { ::mkdtemp(path); }
    ~temp_dir() { std::filesystem::remove_all(path); }
    char path[32] = "/tmp/jobrelay-redis-XXXXXX";
  } dir;
  redis_server redis({.args = {"--appendonly", "yes", "--appendfsync", "always", "--dir", dir.path}});
  controllable_upstream up;
  replica a(up.fake.base_url(), redis.url()), b(up.fake.base_url(), redis.url());
  ASSERT_NE(a.port, 0) << a.proc.output();
  const auto id = submit(a.port);
  ASSERT_EQ(wait_until_running(b.port, id).status, 202u);

  redis.stop();
  // Fast, clear 503s: the job route, a submit, and /readyz; no hang, no crash.
  const auto started = steady::now();
  const auto got = http_get(b.port, "/results/" + id);
  EXPECT_EQ(got.status, 503u) << got.body;
  EXPECT_NE(got.body.find("store-unavailable"), std::string::npos) << got.body;
  EXPECT_FALSE(got.header("Retry-After").empty());
  EXPECT_LT(steady::now() - started, 5s);
  const auto refused = http_post(a.port, "/analyze", R"({"document":"y"})");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_FALSE(refused.header("Retry-After").empty());
  EXPECT_EQ(wait_for_status(a.port, "/readyz", 503).status, 503u);
  EXPECT_EQ(http_get(a.port, "/healthz").status, 200u);

  // The job ends upstream while Redis is down: a, which polls it, keeps the
  // outcome until it can store it.
  up.finish();
  EXPECT_TRUE(a.proc.wait_for_output("job " + id + ": could not store version", 10s)) << a.proc.output();
  redis.restart();
  EXPECT_EQ(wait_for_status(a.port, "/readyz", 200).status, 200u);
  EXPECT_EQ(wait_for_status(b.port, "/readyz", 200).status, 200u);
  const auto done = wait_for_status(b.port, "/results/" + id, 200);
  EXPECT_EQ(done.status, 200u) << done.body;
  const auto second = submit(b.port);
  EXPECT_EQ(wait_for_status(a.port, "/results/" + second, 200).status, 200u);
  EXPECT_EQ(up.submits(), 2u);  // one per job
}

TEST(ScaleOut, IdempotencyKeysCancelsAndLinkTokensWorkAcrossReplicas) {
  REQUIRE_REDIS();
  redis_server redis;
  controllable_upstream up;
  const env_list auth{{"JOBRELAY_AUTH__API_KEYS", "key-one"}};
  replica a(up.fake.base_url(), redis.url(), auth), b(up.fake.base_url(), redis.url(), auth);
  ASSERT_NE(a.port, 0) << a.proc.output();
  ASSERT_NE(b.port, 0) << b.proc.output();
  const std::vector<std::pair<std::string, std::string>> h{
      {"Content-Type", "application/json"}, {"Authorization", "Bearer key-one"}, {"Idempotency-Key", "order-7"}};

  const auto first = http_post(a.port, "/analyze", R"({"document":"x"})", h);
  ASSERT_EQ(first.status, 202u) << first.body;
  const auto again = http_post(b.port, "/analyze", R"({"document":"x"})", h);
  ASSERT_EQ(again.status, 202u) << again.body;
  const auto d1 = json::parse(first.body), d2 = json::parse(again.body);
  EXPECT_EQ(d1["id"], d2["id"]);
  EXPECT_EQ(d2["reused"], true);
  const auto conflict = http_post(b.port, "/analyze", R"({"document":"other"})", h);
  EXPECT_EQ(conflict.status, 422u) << conflict.body;
  const std::string id = d1["id"];

  // The link token a issued opens the stream on b (shared auth.link_secret).
  const std::string events_link = d1["links"]["events"];
  ASSERT_NE(events_link.find("token="), std::string::npos);
  sse_client stream(b.port, events_link);
  EXPECT_EQ(stream.status(), 200u);

  // Cancel on b a job a polls: gone everywhere, the upstream told once.
  EXPECT_EQ(http_get(b.port, "/results/" + id).status, 401u);  // the key is needed on every replica
  const auto running = [&] {
    const auto deadline = steady::now() + 10s;
    reply r;
    do {
      r = http_get(b.port, "/results/" + id, {{"Authorization", "Bearer key-one"}});
      if (r.body.find("\"running\"") != std::string::npos) break;
      std::this_thread::sleep_for(20ms);
    } while (steady::now() < deadline);
    return r;
  }();
  ASSERT_EQ(running.status, 202u) << running.body;
  const auto del = http_request(b.port, jobrelay::http::verb::delete_, "/results/" + id, "",
                                {{"Authorization", "Bearer key-one"}});
  EXPECT_EQ(del.status, 204u) << del.body;
  EXPECT_EQ(http_get(a.port, "/results/" + id, {{"Authorization", "Bearer key-one"}}).status, 404u);
  // a, which polled it, stops when it finds it gone (next poll or lease renewal).
  const auto a_stopped = [&] {
    const auto out = a.proc.output();
    return out.find("job " + id + ": gone from the store") != std::string::npos ||
           out.find("job " + id + ": lease not held") != std::string::npos;
  };
  for (const auto until = steady::now() + 10s; !a_stopped() && steady::now() < until;)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(a_stopped()) << a.proc.output();
  const auto deadline = steady::now() + 10s;
  while (up.fake.count("DELETE", "/ops/") == 0 && steady::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(up.fake.count("DELETE", "/ops/"), 1u);
  EXPECT_EQ(up.submits(), 1u);
}
