// /stats' upstream health: from the outcomes of the calls, on an injected clock.
#include "jobrelay/api/upstream_health.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace jobrelay;
using namespace std::chrono_literals;

TEST(UpstreamHealth, UnknownUntilTheFirstCall) {
  manual_clock clk;
  const api::upstream_health health(clk);
  const auto j = health.to_json();
  EXPECT_EQ(j["status"], "unknown");
  EXPECT_EQ(j["consecutive_failures"], 0);
  EXPECT_TRUE(j["last_ok_at"].is_null());
  EXPECT_TRUE(j["last_failure_at"].is_null());
  EXPECT_TRUE(j["last_failure"].is_null());
}

TEST(UpstreamHealth, FailuresCountUntilACallSucceeds) {
  manual_clock clk;
  api::upstream_health health(clk);
  health.record("submit", "ok");
  auto j = health.to_json();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["last_ok_at"], "2027-01-15T08:00:00.000Z");

  clk.advance(1500ms);
  health.record("poll", "transient");
  clk.advance(1s);
  health.record("submit", "protocol");
  j = health.to_json();
  EXPECT_EQ(j["status"], "failing");
  EXPECT_EQ(j["consecutive_failures"], 2);
  EXPECT_EQ(j["last_failure"], "submit protocol");
  EXPECT_EQ(j["last_failure_at"], "2027-01-15T08:00:02.500Z");
  EXPECT_EQ(j["last_ok_at"], "2027-01-15T08:00:00.000Z");

  // A 4xx is the upstream answering: it neither fails nor heals the count.
  health.record("submit", "rejected");
  EXPECT_EQ(health.to_json()["consecutive_failures"], 2);

  clk.advance(1s);
  health.record("poll", "ok");
  j = health.to_json();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["consecutive_failures"], 0);
  EXPECT_EQ(j["last_ok_at"], "2027-01-15T08:00:03.500Z");
  EXPECT_EQ(j["last_failure"], "submit protocol") << "the last failure stays on record";
}
