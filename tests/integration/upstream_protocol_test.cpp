// The job engine against an upstream that does every legal and illegal thing
// API.md's "Upstream protocol" names: one test per behaviour, asserting on
// what a polling client sees.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_upstream.hpp"
#include "scripted_upstream.hpp"
#include "service_fixture.hpp"
#include "test_tls.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::pair<std::string, std::string>> op_location = {
    {"Operation-Location", "/ops/1"}};

fake_action accepted() { return fake_action::json(202, "", op_location); }

// Submit -> 202 + relative Operation-Location; polls answered by `poll`.
fake_upstream::handler lro(std::function<fake_action(int poll_number)> poll) {
  auto polls = std::make_shared<std::atomic<int>>(0);
  return [poll, polls](const fake_request& r) {
    if (r.method == "POST") return accepted();
    return poll(++*polls);
  };
}

struct Harness {
  explicit Harness(fake_upstream::handler h, std::function<void(config&)> tweak = {})
      : upstream(std::move(h)), svc(make(upstream.base_url(), tweak)) {}
  static config make(const std::string& base, const std::function<void(config&)>& tweak) {
    auto cfg = test_config(base);
    if (tweak) tweak(cfg);
    return cfg;
  }
  std::string submit(const std::string& body = R"({"doc":"x"})") {
    auto r = http_post(svc.port(), "/analyze", body);
    EXPECT_EQ(r.status, 202u) << r.body;
    return json::parse(r.body)["id"];
  }
  json finish(const std::string& id, unsigned expected_status) {
    auto r = svc.wait_until_terminal(id);
    EXPECT_EQ(r.status, expected_status) << r.body;
    return json::parse(r.body);
  }
  fake_upstream upstream;
  running_service svc;
};

// Submits hang while `stalled` (until the per-call timeout; the engine
// retries), else are accepted and counted; a poll finds the job done.
fake_upstream::handler stallable_submits(std::atomic<bool>& stalled, std::atomic<int>& answered) {
  return [&stalled, &answered](const fake_request& r) {
    if (r.method == "POST") {
      if (stalled) return fake_action::hang();
      ++answered;
      return accepted();
    }
    return fake_action::json(200, R"({"status":"succeeded","result":1})");
  };
}

// At most two accepted jobs wait for their submit; a third POST is held up
// to `admission_wait_ms` for room. Hung submits time out fast and are retried.
std::function<void(config&)> two_pending_at_most(unsigned admission_wait_ms) {
  return [admission_wait_ms](config& c) {
    c.upstream.max_pending_submits = 2;
    c.upstream.admission_wait_ms = admission_wait_ms;
    c.upstream.request_timeout_ms = 300;
    c.upstream.max_retries = 50;
  };
}

// POST /analyze requests held for room now, as /stats tells.
int held_submits(const Harness& h) {
  return json::parse(http_get(h.svc.port(), "/stats").body)["held"]["submits"].get<int>();
}

bool wait_until_held(const Harness& h, int n) {
  for (int i = 0; i < 500 && held_submits(h) != n; ++i) std::this_thread::sleep_for(10ms);
  return held_submits(h) == n;
}

}  // namespace

TEST(UpstreamProtocol, RelativeOperationLocationIsPolledUntilSucceeded) {
  Harness h(lro([](int n) {
    if (n < 3) return fake_action::json(200, R"({"status":"running","percentCompleted":30})");
    return fake_action::json(200, R"({"status":"succeeded","result":{"pages":3}})");
  }));
  auto doc = h.finish(h.submit(), 200);
  EXPECT_EQ(doc["result"]["pages"], 3);
  EXPECT_EQ(h.upstream.count("POST", "/analyze"), 1u);
  EXPECT_EQ(h.upstream.count("GET", "/ops/1"), 3u);
  auto submit = h.upstream.requests().front();
  EXPECT_EQ(submit.body, R"({"doc":"x"})");  // the client's bytes, unchanged
  EXPECT_EQ(submit.header("Content-Type"), "application/json");
}

TEST(UpstreamProtocol, LocationHeaderAndAbsoluteUrlsAreAccepted) {
  std::string base;
  fake_upstream up([&](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(201, "", {{"Location", base + "/abs/9"}});
    return fake_action::json(200, R"({"status":"Completed","result":1})");
  });
  base = up.base_url();
  running_service svc(test_config(up.base_url()));
  auto posted = http_post(svc.port(), "/analyze", "{}");
  auto done = svc.wait_until_terminal(json::parse(posted.body)["id"]);
  EXPECT_EQ(done.status, 200u) << done.body;
  EXPECT_EQ(up.count("GET", "/abs/9"), 1u);
}

// upstream.headers often hold a credential. An operation URL (or a redirect)
// on another origin is polled without them, as curl does across hosts; the
// base URL's origin gets them on every call.
TEST(UpstreamProtocol, ConfiguredHeadersGoToTheBaseOriginOnly) {
  fake_upstream other([](const fake_request&) {
    return fake_action::json(200, R"({"status":"succeeded","result":1})");
  });
  const std::string elsewhere = other.base_url() + "/ops/9";
  fake_upstream up([&](const fake_request& r) {
    if (r.target == "/analyze")
      return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    if (r.target == "/ops/1") return fake_action::json(302, "", {{"Location", elsewhere}});
    return fake_action::json(404, "{}");
  });
  auto cfg = test_config(up.base_url());
  cfg.upstream.headers = {{"Authorization", "Bearer s3cret"}};
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  auto done = svc.wait_until_terminal(json::parse(posted.body)["id"]);
  EXPECT_EQ(done.status, 200u) << done.body;
  const auto at_base = up.requests();
  ASSERT_GE(at_base.size(), 2u);
  for (const auto& r : at_base) EXPECT_EQ(r.header("Authorization"), "Bearer s3cret") << r.target;
  const auto at_other = other.requests();
  ASSERT_EQ(at_other.size(), 1u);
  EXPECT_EQ(at_other[0].target, "/ops/9");
  EXPECT_EQ(at_other[0].header("Authorization"), "") << "a credential went to another origin";
}

// API.md: /stats shows the upstream's health. An upstream answering 503
// shows as failing, with what failed; a healthy one as ok.
TEST(UpstreamProtocol, StatsShowTheUpstreamHealth) {
  std::atomic<bool> down{true};
  Harness h(
      [&down](const fake_request& r) {
        if (down) return fake_action::json(503, "{}");
        if (r.method == "POST") return accepted();
        return fake_action::json(200, R"({"status":"succeeded","result":1})");
      },
      [](config& c) { c.upstream.max_retries = 100; });
  const auto health = [&] {
    return json::parse(http_get(h.svc.port(), "/stats").body)["upstream"]["health"];
  };
  EXPECT_EQ(health()["status"], "unknown");
  const auto id = h.submit();
  for (int i = 0; i < 500 && health()["status"] != "failing"; ++i)
    std::this_thread::sleep_for(10ms);
  auto seen = health();
  EXPECT_EQ(seen["status"], "failing") << seen;
  EXPECT_EQ(seen["last_failure"], "submit transient") << seen;
  EXPECT_GE(seen["consecutive_failures"].get<int>(), 1);
  down = false;
  h.finish(id, 200);
  seen = health();
  EXPECT_EQ(seen["status"], "ok") << seen;
  EXPECT_EQ(seen["consecutive_failures"], 0);
  EXPECT_TRUE(seen["last_ok_at"].is_string());
}

TEST(UpstreamProtocol, ImmediateFinalAnswerToTheSubmit) {
  Harness h([](const fake_request&) {
    return fake_action::json(200, R"({"status":"succeeded","result":{"fast":true}})");
  });
  auto doc = h.finish(h.submit(), 200);
  EXPECT_EQ(doc["result"]["fast"], true);
  EXPECT_EQ(h.upstream.count("GET"), 0u);
}

TEST(UpstreamProtocol, EveryStatusAliasCaseInsensitively) {
  for (auto [alias, expected] : std::vector<std::pair<std::string, unsigned>>{
           {"SUCCESS", 200}, {"completed", 200}, {"Failure", 500}, {"error", 500},
           {"Cancelled", 500}, {"canceled", 500}}) {
    Harness h(lro([alias](int n) {
      if (n == 1) return fake_action::json(200, R"({"status":"inProgress"})");
      if (n == 2) return fake_action::json(200, R"({"status":"PROCESSING"})");
      return fake_action::json(200, R"({"status":")" + alias + R"("})");
    }));
    auto doc = h.finish(h.submit(), expected);
    if (expected == 500) EXPECT_EQ(doc["error"]["code"], "upstream_failed") << alias;
  }
}

TEST(UpstreamProtocol, TransientFailuresAreRetriedThenTheJobSucceeds) {
  Harness h(lro([](int n) {
    if (n == 1) return fake_action::json(503, "busy");
    if (n == 2) return fake_action::json(429, "", {{"Retry-After", "0"}});
    if (n == 3) return fake_action::close();
    return fake_action::json(200, R"({"status":"succeeded","result":null})");
  }));
  h.finish(h.submit(), 200);
  EXPECT_EQ(h.upstream.count("GET"), 4u);
}

TEST(UpstreamProtocol, TransientFailuresBeyondTheBudgetAreUpstreamUnreachable) {
  Harness h(lro([](int) { return fake_action::json(502, "bad gateway"); }),
            [](config& c) { c.upstream.max_retries = 2; });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "upstream_unreachable");
  EXPECT_EQ(h.upstream.count("GET"), 3u);  // max_retries + 1 attempts
}

TEST(UpstreamProtocol, UpstreamThatIsDownIsUnreachable) {
  unsigned short dead_port;
  {
    fake_upstream gone([](const fake_request&) { return fake_action::close(); });
    dead_port = gone.port();
  }
  auto cfg = test_config("http://127.0.0.1:" + std::to_string(dead_port));
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  ASSERT_EQ(posted.status, 202u);  // accepted before the upstream is contacted
  auto done = svc.wait_until_terminal(json::parse(posted.body)["id"]);
  EXPECT_EQ(done.status, 500u);
  EXPECT_EQ(json::parse(done.body)["error"]["code"], "upstream_unreachable");
}

TEST(UpstreamProtocol, SubmitRejectedWith4xxKeepsStatusAndBody) {
  Harness h([](const fake_request&) {
    return fake_action::json(422, R"({"error":"unsupported format"})");
  });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "upstream_rejected");
  EXPECT_EQ(doc["error"]["upstream"]["status"], 422);
  EXPECT_EQ(doc["error"]["upstream"]["body"]["error"], "unsupported format");
}

TEST(UpstreamProtocol, RejectedNonJsonBodyIsKeptAsTextCutAt4KiB) {
  Harness h([](const fake_request&) {
    return fake_action::json(400, std::string(10000, 'e'), {{"Content-Type", "text/plain"}});
  });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["upstream"]["body"].get<std::string>().size(), 4096u);
}

TEST(UpstreamProtocol, GarbageAndNonsenseAreUpstreamProtocol) {
  std::vector<fake_upstream::handler> cases = {
      lro([](int) { return fake_action::garbage(); }),
      lro([](int) { return fake_action::json(200, "<html>hello</html>"); }),
      lro([](int) { return fake_action::json(200, R"({"status":"exploded"})"); }),
      lro([](int) { return fake_action::json(404, "{}"); }),
      [](const fake_request&) { return fake_action::json(202, "{}"); },  // no Operation-Location
      [](const fake_request&) {
        return fake_action::json(202, "", {{"Operation-Location", "ftp://files/op"}});
      },
      [](const fake_request&) {
        return fake_action::json(202, "", {{"Operation-Location", "javascript:alert(1)"}});
      },
      lro([](int) { return fake_action::json(200, std::string(200000, '[')); }),
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    Harness h(cases[i]);
    auto doc = h.finish(h.submit(), 500);
    EXPECT_EQ(doc["error"]["code"], "upstream_protocol") << "case " << i << ": " << doc.dump();
    EXPECT_FALSE(doc["error"]["message"].get<std::string>().empty());
  }
}

TEST(UpstreamProtocol, AnswerLargerThanMaxResponseBytesIsUpstreamProtocol) {
  Harness h(lro([](int) {
              return fake_action::json(200, R"({"status":"succeeded","result":")" +
                                                std::string(5000, 'x') + "\"}");
            }),
            [](config& c) { c.upstream.max_response_bytes = 1000; });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "upstream_protocol");
}

TEST(UpstreamProtocol, AHangingUpstreamTimesOutPerCallAndEndsUnreachable) {
  Harness h(lro([](int) { return fake_action::hang(); }), [](config& c) {
    c.upstream.request_timeout_ms = 150;
    c.upstream.max_retries = 1;
  });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "upstream_unreachable");
  EXPECT_NE(doc["error"]["message"].get<std::string>().find("timed out"), std::string::npos);
}

TEST(UpstreamProtocol, ABodyThatNeverEndsTimesOut) {
  Harness h(lro([](int) { return fake_action::partial(); }), [](config& c) {
    c.upstream.request_timeout_ms = 150;
    c.upstream.max_retries = 0;
  });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "upstream_unreachable");
}

TEST(UpstreamProtocol, RedirectedOperationUrlIsFollowed) {
  Harness h([](const fake_request& r) {
    if (r.method == "POST") return accepted();
    if (r.target == "/ops/1") return fake_action::json(307, "", {{"Location", "/moved/1"}});
    return fake_action::json(200, R"({"status":"succeeded","result":"moved"})");
  });
  auto doc = h.finish(h.submit(), 200);
  EXPECT_EQ(doc["result"], "moved");
  EXPECT_GE(h.upstream.count("GET", "/moved/1"), 1u);
}

TEST(UpstreamProtocol, AJobThatOutlivesMaxDurationFailsWithTimeoutAndIsCanceledUpstream) {
  Harness h(lro([](int) { return fake_action::json(200, R"({"status":"running"})"); }),
            [](config& c) { c.jobs.max_job_duration_seconds = 1; });
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "timeout");
  // Best-effort DELETE of the operation once the job gave up.
  for (int i = 0; i < 200 && h.upstream.count("DELETE", "/ops/1") == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(h.upstream.count("DELETE", "/ops/1"), 1u);
}

TEST(UpstreamProtocol, UnchangedPollsDoNotMoveUpdatedAtOrTheEtag) {
  std::atomic<bool> finish{false};
  Harness h(lro([&](int) {
    if (finish) return fake_action::json(200, R"({"status":"succeeded","result":1})");
    return fake_action::json(200, R"({"status":"running","percentCompleted":50})");
  }));
  const auto id = h.submit();
  auto first = h.svc.wait_for(id, [](const reply& r) { return r.body.find("\"progress\"") != std::string::npos; });
  const auto polls_then = h.upstream.count("GET");
  while (h.upstream.count("GET") < polls_then + 5) std::this_thread::sleep_for(5ms);
  auto later = http_get(h.svc.port(), "/results/" + id);
  EXPECT_EQ(later.header("ETag"), first.header("ETag"));
  EXPECT_EQ(json::parse(later.body)["updated_at"], json::parse(first.body)["updated_at"]);
  finish = true;
  h.finish(id, 200);
}

TEST(UpstreamProtocol, ConfiguredHeadersWithEnvironmentSecretsReachTheUpstream) {
  Harness h(lro([](int) { return fake_action::json(200, R"({"status":"succeeded"})"); }),
            [](config& c) { c.upstream.headers = {{"Ocp-Apim-Subscription-Key", "s3cret"}}; });
  h.finish(h.submit(), 200);
  for (const auto& r : h.upstream.requests())
    EXPECT_EQ(r.header("Ocp-Apim-Subscription-Key"), "s3cret") << r.method << " " << r.target;
}

TEST(UpstreamProtocol, KeepAliveConnectionsArePooled) {
  Harness h(lro([](int n) {
    if (n < 5) return fake_action::json(200, R"({"status":"running"})");
    return fake_action::json(200, R"({"status":"succeeded"})");
  }));
  h.finish(h.submit(), 200);
  EXPECT_EQ(h.upstream.connections(), 1u);
}

TEST(UpstreamTls, VerifiedAgainstTheConfiguredCa) {
  auto tls = make_tls_material({"DNS:localhost", "IP:127.0.0.1"});
  fake_upstream up([](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    return fake_action::json(200, R"({"status":"succeeded","result":"tls"})");
  }, &tls);
  auto cfg = test_config("https://localhost:" + std::to_string(up.port()));
  cfg.upstream.tls_ca_file = tls.ca_file_path;
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  auto done = svc.wait_until_terminal(json::parse(posted.body)["id"]);
  EXPECT_EQ(done.status, 200u) << done.body;
  EXPECT_EQ(json::parse(done.body)["result"], "tls");
}

TEST(UpstreamTls, AnUntrustedCertificateIsRefused) {
  auto tls = make_tls_material({"DNS:localhost"});
  fake_upstream up([](const fake_request&) { return fake_action::json(202, "", op_location); }, &tls);
  auto cfg = test_config("https://localhost:" + std::to_string(up.port()));
  cfg.upstream.max_retries = 0;  // the system store does not know our test CA
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  auto done = svc.wait_until_terminal(json::parse(posted.body)["id"]);
  EXPECT_EQ(done.status, 500u);
  EXPECT_NE(done.body.find("TLS"), std::string::npos) << done.body;
  EXPECT_EQ(up.count("POST"), 0u);
}

TEST(UpstreamTls, AHostNameMismatchIsRefusedAndVerifyFalseAcceptsIt) {
  auto tls = make_tls_material({"DNS:analyzer.example"});
  fake_upstream up([](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    return fake_action::json(200, R"({"status":"succeeded"})");
  }, &tls);
  auto cfg = test_config("https://localhost:" + std::to_string(up.port()));
  cfg.upstream.tls_ca_file = tls.ca_file_path;
  cfg.upstream.max_retries = 0;
  {
    running_service svc(cfg);
    auto posted = http_post(svc.port(), "/analyze", "{}");
    EXPECT_EQ(svc.wait_until_terminal(json::parse(posted.body)["id"]).status, 500u);
    EXPECT_EQ(up.count("POST"), 0u);
  }
  cfg.upstream.tls_verify = false;
  running_service svc(cfg);
  auto posted = http_post(svc.port(), "/analyze", "{}");
  EXPECT_EQ(svc.wait_until_terminal(json::parse(posted.body)["id"]).status, 200u);
}

TEST(UpstreamProtocol, SubmitIsAnsweredBeforeTheUpstreamIsContacted) {
  // The upstream never answers the submit; the client still gets its 202 at
  // once, and the job shows queued until the per-call timeout.
  Harness h([](const fake_request&) { return fake_action::hang(); }, [](config& c) {
    c.upstream.request_timeout_ms = 5000;
  });
  const auto started = std::chrono::steady_clock::now();
  auto r = http_post(h.svc.port(), "/analyze", "{}");
  EXPECT_EQ(r.status, 202u);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  EXPECT_EQ(json::parse(r.body)["status"], "queued");
  auto polled = http_get(h.svc.port(), "/results/" + json::parse(r.body)["id"].get<std::string>());
  EXPECT_EQ(polled.status, 202u);
  EXPECT_EQ(json::parse(polled.body)["status"], "queued");
}

TEST(UpstreamProtocol, UpstreamConcurrencyIsBoundedByMaxConnections) {
  std::atomic<int> in_flight{0}, peak{0};
  Harness h(
      [&](const fake_request& r) {
        const int now = ++in_flight;
        int seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        --in_flight;
        if (r.method == "POST") return accepted();
        return fake_action::json(200, R"({"status":"succeeded"})");
      },
      [](config& c) { c.upstream.max_connections = 2; });
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(h.submit());
  for (auto& id : ids) h.finish(id, 200);
  EXPECT_LE(h.upstream.connections(), 2u);
  EXPECT_EQ(h.upstream.count("POST"), 8u);
}

TEST(UpstreamProtocol, TheDeadlineWinsOverAnUpstreamCallInFlight) {
  // The poll hangs longer than the job may live: the job must end as
  // `timeout` at its deadline, not as whatever the aborted call looked like,
  // and not stay running.
  Harness h(lro([](int) { return fake_action::hang(); }), [](config& c) {
    c.jobs.max_job_duration_seconds = 1;
    c.upstream.request_timeout_ms = 10000;
  });
  const auto started = std::chrono::steady_clock::now();
  auto doc = h.finish(h.submit(), 500);
  EXPECT_EQ(doc["error"]["code"], "timeout") << doc.dump();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(8));
}

// The admission rule: while the upstream has not taken the jobs already
// accepted, a new submit is held for room and then refused with 503 +
// Retry-After instead of joining a queue that only grows; once the upstream catches up, jobs are accepted
// again, and every accepted job reached the upstream.
TEST(UpstreamProtocol, BackPressureRefusesSubmitsWhileTheUpstreamIsBehind) {
  std::atomic<bool> stalled{true};
  std::atomic<int> submits_answered{0};
  Harness h(
      stallable_submits(stalled, submits_answered),
      two_pending_at_most(200));  // a third is held 200 ms for room, then refused
  const auto first = http_post(h.svc.port(), "/analyze", "{}");
  const auto second = http_post(h.svc.port(), "/analyze", "{}");
  ASSERT_EQ(first.status, 202u) << first.body;
  ASSERT_EQ(second.status, 202u) << second.body;

  const auto refused = http_post(h.svc.port(), "/analyze", "{}");
  EXPECT_EQ(refused.status, 503u) << refused.body;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(refused.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(json::parse(refused.body)["type"], "urn:jobrelay:problem:upstream-busy") << refused.body;

  stalled = false;  // the upstream recovers: the retried submits are answered
  for (const auto* accepted_job : {&first, &second}) {
    const std::string id = json::parse(accepted_job->body)["id"];
    EXPECT_EQ(h.svc.wait_until_terminal(id).status, 200u);
  }
  const auto later = http_post(h.svc.port(), "/analyze", "{}");
  EXPECT_EQ(later.status, 202u) << later.body;
  EXPECT_EQ(h.svc.wait_until_terminal(json::parse(later.body)["id"]).status, 200u);
  EXPECT_EQ(submits_answered.load(), 3) << "every accepted job, and only those, reached the upstream";
}

// A burst past the bound is held, not refused: each submit the upstream
// answers lets one held request in, and every job accepted reaches the
// upstream once. What a client sees is a slower 202, not a 503 to retry.
TEST(UpstreamProtocol, ABurstPastTheAdmissionBoundIsHeldAndLetInAsTheUpstreamTakesSubmits) {
  std::atomic<bool> stalled{true};
  std::atomic<int> submits_answered{0};
  Harness h(
      stallable_submits(stalled, submits_answered),
      two_pending_at_most(20000));
  const auto first = h.submit("{}");
  const auto second = h.submit("{}");
  // Two more arrive while the upstream takes nothing: both are held.
  auto third = std::async(std::launch::async, [&] { return http_post(h.svc.port(), "/analyze", "{}"); });
  auto fourth = std::async(std::launch::async, [&] { return http_post(h.svc.port(), "/analyze", "{}"); });
  ASSERT_TRUE(wait_until_held(h, 2));
  EXPECT_EQ(third.wait_for(0s), std::future_status::timeout) << "held, not answered";

  stalled = false;  // the upstream recovers: each answered submit lets one in
  const auto third_reply = third.get();
  const auto fourth_reply = fourth.get();
  ASSERT_EQ(third_reply.status, 202u) << third_reply.body;
  ASSERT_EQ(fourth_reply.status, 202u) << fourth_reply.body;
  EXPECT_EQ(held_submits(h), 0);
  for (const auto& id : {first, second, std::string(json::parse(third_reply.body)["id"]),
                         std::string(json::parse(fourth_reply.body)["id"])})
    h.finish(id, 200);
  EXPECT_EQ(submits_answered.load(), 4) << "every accepted job reached the upstream once";
}

// A request held for room when a drain begins is answered at once, with the
// reason that tells the client what to do: this replica is going (retry on
// another), not "the analyzer is busy".
TEST(UpstreamProtocol, ARequestHeldForRoomWhenADrainBeginsIsToldTheServerIsDraining) {
  std::atomic<bool> stalled{true};
  std::atomic<int> submits_answered{0};
  Harness h(stallable_submits(stalled, submits_answered), two_pending_at_most(20000));
  h.submit("{}");
  h.submit("{}");
  auto held =
      std::async(std::launch::async, [&] { return http_post(h.svc.port(), "/analyze", "{}"); });
  ASSERT_TRUE(wait_until_held(h, 1));

  const auto drain_began = std::chrono::steady_clock::now();
  auto stopping = std::async(std::launch::async, [&] { h.svc.stop_and_wait(); });
  const auto reply = held.get();
  EXPECT_LT(std::chrono::steady_clock::now() - drain_began, 10s)
      << "not after admission_wait_ms (20 s)";
  EXPECT_EQ(reply.status, 503u) << reply.body;
  EXPECT_EQ(reply.header("Retry-After"), "1");
  EXPECT_EQ(json::parse(reply.body)["type"], "urn:jobrelay:problem:draining") << reply.body;
  stopping.get();
  EXPECT_EQ(submits_answered.load(), 0) << "the held request was never submitted";
}

// A DELETE while the submit is out: once the upstream answers it with an
// operation, that operation is canceled too, not left running there.
TEST(UpstreamProtocol, ADeleteWhileTheSubmitIsOutCancelsTheOperationItMade) {
  scripted_upstream up([](const recorded_request& r) {
    if (r.method == "POST")
      return upstream_action::respond(202, "").header("Operation-Location", "/ops/7").after(400ms);
    if (r.method == "DELETE") return upstream_action::respond(204, "");
    return upstream_action::respond(200, R"({"status":"running"})");
  });
  running_service svc(test_config(up.base_url()));
  const auto posted = http_post(svc.port(), "/analyze", "{}");
  ASSERT_EQ(posted.status, 202u);
  const std::string id = json::parse(posted.body)["id"];
  ASSERT_TRUE(up.wait_for_requests(1));  // the submit is out
  EXPECT_EQ(
      http_request(svc.port(), jobrelay::http::verb::delete_, "/results/" + id, "", {}).status,
      204u);
  ASSERT_TRUE(up.wait_for_requests(2)) << "no DELETE of the operation the submit made";
  const auto seen = up.requests();
  EXPECT_EQ(seen[1].method, "DELETE");
  EXPECT_EQ(seen[1].target, "/ops/7");
}

// A DELETE while the job's poll is out: the job is gone at once, the call is
// left to end (here by the per-call timeout), its outcome is dropped, and the
// upstream hears one DELETE of the operation and no further poll.
TEST(UpstreamProtocol, ADeleteWhileAPollIsInFlightForgetsTheJobAndCancelsUpstreamOnce) {
  std::atomic<bool> poll_started{false};
  Harness h(
      [&](const fake_request& r) {
        if (r.method == "POST") return accepted();
        if (r.method == "DELETE") return fake_action::json(204, "");
        poll_started = true;
        return fake_action::hang();
      },
      [](config& c) {
        c.polling.upstream_initial_ms = 20;
        c.upstream.request_timeout_ms = 400;
      });
  const auto id = h.submit();
  for (int i = 0; i < 500 && !poll_started; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(poll_started);

  const auto deleted = http_request(h.svc.port(), jobrelay::http::verb::delete_, "/results/" + id, "", {});
  EXPECT_EQ(deleted.status, 204u) << deleted.body;
  EXPECT_EQ(http_get(h.svc.port(), "/results/" + id).status, 404u);

  for (int i = 0; i < 300 && h.upstream.count("DELETE", "/ops/1") == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(h.upstream.count("DELETE", "/ops/1"), 1u);
  const auto polls = h.upstream.count("GET", "/ops/1");
  std::this_thread::sleep_for(200ms);  // room for a poll that should not come
  EXPECT_EQ(h.upstream.count("GET", "/ops/1"), polls);
  EXPECT_EQ(http_get(h.svc.port(), "/results/" + id).status, 404u);
}
