// Rate limiting end to end: per client, separate for submits and polls,
// 429 + Retry-After that is enough, X-Forwarded-For believed only from
// trusted proxies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "service_fixture.hpp"

using namespace jobrelay;
using namespace jobrelay::testing;
using json = nlohmann::json;

namespace {
config limited(const std::string& upstream) {
  auto cfg = test_config(upstream);
  cfg.rate_limit.submit = {1, 2};
  cfg.rate_limit.poll = {1, 3};
  return cfg;
}
}  // namespace

TEST(RateLimit, SubmitBurstThen429WithRetryAfterThatLetsTheClientIn) {
  running_mock mock({});
  running_service svc(limited(mock.base_url()));
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);
  auto refused = http_post(svc.port(), "/analyze", "{}");
  ASSERT_EQ(refused.status, 429u);
  EXPECT_EQ(refused.header("Content-Type"), "application/problem+json");
  EXPECT_EQ(json::parse(refused.body)["type"], "urn:jobrelay:problem:rate-limited");
  const int wait = std::stoi(refused.header("Retry-After"));
  EXPECT_GE(wait, 1);
  std::this_thread::sleep_for(std::chrono::seconds(wait));  // the advice itself is under test
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);
}

TEST(RateLimit, PollsHaveTheirOwnBucketAndOpsEndpointsAreNeverLimited) {
  running_mock mock({});
  running_service svc(limited(mock.base_url()));
  auto posted = http_post(svc.port(), "/analyze", "{}");
  const std::string id = json::parse(posted.body)["id"];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(http_get(svc.port(), "/results/" + id).status, 202u) << i;
  EXPECT_EQ(http_get(svc.port(), "/results/" + id).status, 429u);
  EXPECT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);  // submit bucket untouched
  for (int i = 0; i < 50; ++i) ASSERT_EQ(http_get(svc.port(), "/healthz").status, 200u);
}

TEST(RateLimit, SpoofedForwardedForFromAnUntrustedPeerDoesNotBuyANewBucket) {
  running_mock mock({});
  running_service svc(limited(mock.base_url()));
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(http_post(svc.port(), "/analyze", "{}",
                        {{"Content-Type", "application/json"}, {"X-Forwarded-For", "10.9.9." + std::to_string(i)}})
                  .status,
              202u);
  auto r = http_post(svc.port(), "/analyze", "{}",
                     {{"Content-Type", "application/json"}, {"X-Forwarded-For", "10.9.9.99"}});
  EXPECT_EQ(r.status, 429u);
}

TEST(RateLimit, BehindATrustedProxyEachForwardedClientHasItsOwnBucket) {
  running_mock mock({});
  auto cfg = limited(mock.base_url());
  cfg.server.trusted_proxies = {"127.0.0.0/8"};
  running_service svc(cfg);
  auto post_as = [&](const std::string& xff) {
    return http_post(svc.port(), "/analyze", "{}",
                     {{"Content-Type", "application/json"}, {"X-Forwarded-For", xff}})
        .status;
  };
  EXPECT_EQ(post_as("198.51.100.1"), 202u);
  EXPECT_EQ(post_as("198.51.100.1"), 202u);
  EXPECT_EQ(post_as("198.51.100.1"), 429u);
  EXPECT_EQ(post_as("198.51.100.2"), 202u);
  // A client prepending a fake hop is still itself: the right-most untrusted entry.
  EXPECT_EQ(post_as("203.0.113.5, 198.51.100.1"), 429u);
}

TEST(RateLimit, RateZeroTurnsTheLimitOff) {
  running_mock mock({});
  auto cfg = limited(mock.base_url());
  cfg.rate_limit.submit = {0, 0};
  running_service svc(cfg);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(http_post(svc.port(), "/analyze", "{}").status, 202u);
}
