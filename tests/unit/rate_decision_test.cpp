// limit::decide: a bucket's take_result as the header values both limiters
// (local and shared through Redis) send.
#include <gtest/gtest.h>

#include "jobrelay/limit/decision.hpp"

namespace {

using namespace std::chrono_literals;
using jobrelay::rate_spec;
using jobrelay::limit::decide;
using jobrelay::limit::take_result;

TEST(RateDecision, AllowedTakeCarriesRemainingAndTheTimeUntilFull) {
  const auto d = decide(rate_spec{1, 5}, take_result{true, 3, 0ns, 2s});
  EXPECT_TRUE(d.enabled);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, 5u);
  EXPECT_EQ(d.remaining, 3u);
  EXPECT_EQ(d.reset_seconds, 2u);
  EXPECT_EQ(d.retry_after_seconds, 0u);
  EXPECT_EQ(d.policy.limit, 5u);
  EXPECT_EQ(d.policy.window_seconds, 5u);
}

TEST(RateDecision, TimesRoundUpToWholeSeconds) {
  const auto d = decide(rate_spec{1, 5}, take_result{false, 0, 1001ms, 4001ms});
  EXPECT_EQ(d.retry_after_seconds, 2u);
  EXPECT_EQ(d.reset_seconds, 5u);
  EXPECT_EQ(decide(rate_spec{1, 5}, take_result{true, 4, 0ns, 1ns}).reset_seconds, 1u);
}

TEST(RateDecision, ARejectionNeverAdvisesZeroSeconds) {
  const auto d = decide(rate_spec{10, 20}, take_result{false, 0, 0ns, 0ns});
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 1u);
}

TEST(RateDecision, WindowIsBurstOverRateRoundedUpAndAtLeastOne) {
  EXPECT_EQ(decide(rate_spec{10, 20}, take_result{}).policy.window_seconds, 2u);
  EXPECT_EQ(decide(rate_spec{0.4, 1}, take_result{}).policy.window_seconds, 3u);
  EXPECT_EQ(decide(rate_spec{100, 5}, take_result{}).policy.window_seconds, 1u);
  EXPECT_EQ(decide(rate_spec{0.001, 3}, take_result{}).policy.window_seconds, 3000u);
}

TEST(RateDecision, BurstIsAWholeNumberOfAtLeastOne) {
  EXPECT_EQ(decide(rate_spec{1, 2.7}, take_result{}).limit, 2u);
  EXPECT_EQ(decide(rate_spec{1, 0}, take_result{}).limit, 1u);
}

TEST(RateDecision, AnOffLimitSendsNoHeaders) {
  const auto d = decide(rate_spec{0, 0}, take_result{false, 0, 5s, 5s});
  EXPECT_FALSE(d.enabled);
  EXPECT_TRUE(d.allowed);
}

}  // namespace
