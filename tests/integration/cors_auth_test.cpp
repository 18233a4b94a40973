// CORS exactly as API.md says, and optional API-key auth with per-key job
// visibility and event-stream link tokens.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fake_upstream.hpp"
#include "service_fixture.hpp"
#include "sse_client.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;
using headers = std::vector<std::pair<std::string, std::string>>;

namespace {

fake_upstream::handler quick_job() {
  return [](const fake_request& r) {
    if (r.method == "POST") return fake_action::json(202, "", {{"Operation-Location", "/ops/1"}});
    return fake_action::json(200, R"({"status":"succeeded","result":{"ok":true}})");
  };
}

constexpr const char* app_origin = "http://app.example:3000";

config cors_config(const std::string& upstream) {
  auto cfg = test_config(upstream);
  cfg.server.cors_allowed_origins = {app_origin};
  cfg.rate_limit.poll = {1, 1};
  return cfg;
}

void expect_cors(const reply& r) {
  EXPECT_EQ(r.header("Access-Control-Allow-Origin"), app_origin) << r.status;
  EXPECT_NE(r.header("Vary").find("Origin"), std::string::npos) << r.header("Vary");
}

}  // namespace

TEST(Cors, PreflightFromAnAllowedOriginIsAnsweredWithoutLimitOrAuth) {
  fake_upstream up(quick_job());
  auto cfg = cors_config(up.base_url());
  cfg.auth.api_keys = {"k1"};
  running_service svc(cfg);
  for (int i = 0; i < 5; ++i) {  // the poll limit is 1 request: preflights do not count
    auto r = http_request(svc.port(), http::verb::options, "/results/j_AAAAAAAAAAAAAAAAAAAAAA", "",
                          {{"Origin", app_origin},
                           {"Access-Control-Request-Method", "GET"},
                           {"Access-Control-Request-Headers", "if-none-match, prefer"}});
    EXPECT_EQ(r.status, 204u);
    expect_cors(r);
    EXPECT_EQ(r.header("Access-Control-Allow-Methods"), "GET, POST, DELETE");
    const auto allowed = r.header("Access-Control-Allow-Headers");
    for (auto h : {"Authorization", "Content-Type", "If-None-Match", "Idempotency-Key", "Prefer",
                   "Last-Event-ID", "X-Request-Id"})
      EXPECT_NE(allowed.find(h), std::string::npos) << h;
    EXPECT_EQ(r.header("Access-Control-Max-Age"), "600");
  }
}

TEST(Cors, ARefusedOriginGetsNoCorsHeaders) {
  fake_upstream up(quick_job());
  running_service svc(cors_config(up.base_url()));
  auto pre = http_request(svc.port(), http::verb::options, "/analyze", "",
                          {{"Origin", "http://evil.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204u);
  EXPECT_TRUE(pre.header("Access-Control-Allow-Origin").empty());
  EXPECT_TRUE(pre.header("Access-Control-Allow-Methods").empty());
  auto get = http_get(svc.port(), "/healthz", {{"Origin", "http://evil.example"}});
  EXPECT_TRUE(get.header("Access-Control-Allow-Origin").empty());
}

// Scheme and host are case-insensitive: an origin differing from the
// configured one only in case is the same origin, and is echoed as sent.
TEST(Cors, OriginsMatchWhateverTheirCase) {
  fake_upstream up(quick_job());
  auto cfg = cors_config(up.base_url());
  cfg.server.cors_allowed_origins = {"http://App.Example:3000"};
  running_service svc(cfg);
  auto get = http_get(svc.port(), "/healthz", {{"Origin", "HTTP://APP.example:3000"}});
  EXPECT_EQ(get.header("Access-Control-Allow-Origin"), "HTTP://APP.example:3000");
  auto other = http_get(svc.port(), "/healthz", {{"Origin", "http://app.example:3001"}});
  EXPECT_TRUE(other.header("Access-Control-Allow-Origin").empty());
}

// CORS off (no allowed origin, the default): every origin is refused, as
// a disallowed one is when CORS is on: a bare 204 to a preflight, no CORS
// headers on any answer.
TEST(Cors, WithoutAllowedOriginsEveryOriginIsRefused) {
  fake_upstream up(quick_job());
  auto cfg = cors_config(up.base_url());
  cfg.server.cors_allowed_origins.clear();
  running_service svc(cfg);
  auto pre = http_request(svc.port(), http::verb::options, "/analyze", "",
                          {{"Origin", app_origin}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(pre.status, 204u) << pre.body;
  EXPECT_TRUE(pre.header("Access-Control-Allow-Origin").empty());
  EXPECT_TRUE(pre.header("Access-Control-Allow-Methods").empty());
  auto get = http_get(svc.port(), "/healthz", {{"Origin", app_origin}});
  EXPECT_EQ(get.status, 200u);
  EXPECT_TRUE(get.header("Access-Control-Allow-Origin").empty());
  EXPECT_EQ(get.header("Vary").find("Origin"), std::string::npos) << get.header("Vary");
}

TEST(Cors, EveryAnswerToAnAllowedOriginCarriesTheHeaders) {
  fake_upstream up(quick_job());
  auto cfg = cors_config(up.base_url());
  cfg.rate_limit.poll = {0, 0};
  cfg.rate_limit.submit = {1, 1};
  running_service svc(cfg);
  const headers origin = {{"Origin", app_origin}};
  auto posted = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, {"Origin", app_origin}});
  expect_cors(posted);
  const auto exposed = posted.header("Access-Control-Expose-Headers");
  for (auto h : {"Location", "Operation-Location", "Retry-After", "ETag", "RateLimit", "RateLimit-Policy",
                 "Preference-Applied", "X-Request-Id"})
    EXPECT_NE(exposed.find(h), std::string::npos) << h;
  const std::string id = json::parse(posted.body)["id"];
  auto done = svc.wait_until_terminal(id);
  auto not_modified = http_get(svc.port(), "/results/" + id, {{"Origin", app_origin}, {"If-None-Match", done.header("ETag")}});
  EXPECT_EQ(not_modified.status, 304u);
  expect_cors(not_modified);
  auto limited = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, {"Origin", app_origin}});
  EXPECT_EQ(limited.status, 429u);  // a problem document
  expect_cors(limited);
  expect_cors(http_get(svc.port(), "/nope", origin));
  sse_client events(svc.port(), "/results/" + id + "/events", {{"Origin", app_origin}});
  EXPECT_EQ(events.header("Access-Control-Allow-Origin"), app_origin);
}

TEST(Auth, MissingOrWrongKeysAre401AndOpsStayOpen) {
  fake_upstream up(quick_job());
  auto cfg = test_config(up.base_url());
  cfg.auth.api_keys = {"key-one", "key-two"};
  running_service svc(cfg);
  auto none = http_post(svc.port(), "/analyze", "{}");
  EXPECT_EQ(none.status, 401u);
  EXPECT_EQ(none.header("WWW-Authenticate").rfind("Bearer", 0), 0u);
  EXPECT_EQ(none.header("Content-Type"), "application/problem+json");
  auto wrong = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, {"Authorization", "Bearer key-three"}});
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_NE(wrong.header("WWW-Authenticate").find("invalid_token"), std::string::npos);
  EXPECT_EQ(http_get(svc.port(), "/results/j_AAAAAAAAAAAAAAAAAAAAAA").status, 401u);
  EXPECT_EQ(http_get(svc.port(), "/healthz").status, 200u);
  EXPECT_EQ(http_get(svc.port(), "/readyz").status, 200u);
  EXPECT_EQ(http_get(svc.port(), "/stats").status, 200u);
}

TEST(Auth, AJobIsVisibleOnlyToTheKeyThatCreatedIt) {
  fake_upstream up(quick_job());
  auto cfg = test_config(up.base_url());
  cfg.auth.api_keys = {"key-one", "key-two"};
  running_service svc(cfg);
  const headers one = {{"Authorization", "Bearer key-one"}}, two = {{"Authorization", "Bearer key-two"}};
  auto posted = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, one[0]});
  ASSERT_EQ(posted.status, 202u);
  const std::string id = json::parse(posted.body)["id"];
  for (int i = 0; i < 200 && http_get(svc.port(), "/results/" + id, one).status != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(http_get(svc.port(), "/results/" + id, one).status, 200u);
  EXPECT_EQ(http_get(svc.port(), "/results/" + id, two).status, 404u);
  EXPECT_EQ(http_request(svc.port(), http::verb::delete_, "/results/" + id, "", two).status, 404u);
  auto batch = json::parse(http_get(svc.port(), "/results?ids=" + id, two).body);
  EXPECT_EQ(batch["missing"], json::array({id}));
  // Idempotency keys are scoped per API key, too.
  auto k1 = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, one[0], {"Idempotency-Key", "x"}});
  auto k2 = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, two[0], {"Idempotency-Key", "x"}});
  EXPECT_NE(json::parse(k1.body)["id"], json::parse(k2.body)["id"]);
  EXPECT_EQ(http_request(svc.port(), http::verb::delete_, "/results/" + id, "", one).status, 204u);
}

TEST(Auth, TheEventsLinkCarriesATokenThatOpensOnlyThatStream) {
  fake_upstream up(quick_job());
  auto cfg = test_config(up.base_url());
  cfg.auth.api_keys = {"key-one"};
  running_service svc(cfg);
  auto a = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, {"Authorization", "Bearer key-one"}});
  auto b = http_post(svc.port(), "/analyze", "{}", {{"Content-Type", "application/json"}, {"Authorization", "Bearer key-one"}});
  const auto doc_a = json::parse(a.body), doc_b = json::parse(b.body);
  const std::string link = doc_a["links"]["events"];
  ASSERT_NE(link.find("?token="), std::string::npos) << link;
  EXPECT_EQ(link.find("key-one"), std::string::npos);
  sse_client with_token(svc.port(), link);  // no Authorization header, as EventSource
  EXPECT_EQ(with_token.status(), 200u);
  auto e = with_token.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(json::parse(e->data)["id"], doc_a["id"]);
  const std::string token = link.substr(link.find("token=") + 6);
  sse_client other_job(svc.port(), "/results/" + doc_b["id"].get<std::string>() + "/events?token=" + token);
  EXPECT_EQ(other_job.status(), 401u);
  sse_client forged(svc.port(), "/results/" + doc_a["id"].get<std::string>() + "/events?token=9999999999.AAAA");
  EXPECT_EQ(forged.status(), 401u);
  // The token opens the stream, nothing else.
  EXPECT_EQ(http_get(svc.port(), "/results/" + doc_a["id"].get<std::string>() + "?token=" + token).status, 401u);
}

TEST(Cors, AnswersTheServerMakesBeforeRoutingCarryTheHeadersToo) {
  fake_upstream up(quick_job());
  auto cfg = cors_config(up.base_url());
  cfg.limits.max_body_bytes = 10;
  running_service svc(cfg);
  const std::string origin_line = std::string("Origin: ") + app_origin + "\r\n";
  for (const std::string& request :
       {"POST /analyze HTTP/1.1\r\nHost: x\r\n" + origin_line + "Content-Type: application/json\r\n\r\n",
        "POST /analyze HTTP/1.1\r\nHost: x\r\n" + origin_line +
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"}) {
    const auto raw = raw_exchange(svc.port(), request);
    EXPECT_TRUE(raw.rfind("HTTP/1.1 411", 0) == 0 || raw.rfind("HTTP/1.1 413", 0) == 0) << raw;
    EXPECT_NE(raw.find(std::string("Access-Control-Allow-Origin: ") + app_origin + "\r\n"), std::string::npos)
        << raw;
  }
}
