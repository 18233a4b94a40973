#include <gtest/gtest.h>

#include "jobrelay/limit/rate_limiter.hpp"

using namespace jobrelay;
using namespace jobrelay::limit;
using namespace std::chrono;

TEST(RateLimiter, BurstThenRefusalWithRetryAfterThatLetsTheClientIn) {
  manual_clock clock;
  rate_limiter limiter({1, 5}, clock);
  for (int i = 0; i < 5; ++i) {
    auto d = limiter.check("a");
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4u - i);
    EXPECT_EQ(d.limit, 5u);
  }
  auto refused = limiter.check("a");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1u);
  clock.advance(seconds(refused.retry_after_seconds));
  EXPECT_TRUE(limiter.check("a").allowed);
  EXPECT_FALSE(limiter.check("a").allowed);
}

TEST(RateLimiter, SlowRatesAdviseLongerWaitsAndTheAdviceIsEnough) {
  manual_clock clock;
  rate_limiter limiter({0.25, 1}, clock);
  EXPECT_TRUE(limiter.check("a").allowed);
  auto refused = limiter.check("a");
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 4u);
  clock.advance(seconds(3));
  EXPECT_FALSE(limiter.check("a").allowed);  // too early; a refused try spends nothing
  clock.advance(seconds(1));
  EXPECT_TRUE(limiter.check("a").allowed);
}

TEST(RateLimiter, ClientsAreIndependentAndRateZeroIsOff) {
  manual_clock clock;
  rate_limiter limiter({1, 1}, clock);
  EXPECT_TRUE(limiter.check("a").allowed);
  EXPECT_FALSE(limiter.check("a").allowed);
  EXPECT_TRUE(limiter.check("b").allowed);
  rate_limiter off({0, 0}, clock);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(off.check("a").allowed);
  EXPECT_EQ(off.size(), 0u);
}

TEST(RateLimiter, IdleBucketsAreDroppedAndASprayStaysBounded) {
  manual_clock clock;
  rate_limiter limiter({10, 20}, clock, /*max_clients=*/1600);
  for (int i = 0; i < 100; ++i) limiter.check("c" + std::to_string(i));
  EXPECT_EQ(limiter.size(), 100u);
  clock.advance(milliseconds(50));
  limiter.sweep();
  EXPECT_EQ(limiter.size(), 100u);  // not yet refilled
  clock.advance(seconds(1));
  limiter.sweep();
  EXPECT_EQ(limiter.size(), 0u);
  for (int i = 0; i < 100000; ++i) limiter.check("spray" + std::to_string(i));
  EXPECT_LE(limiter.size(), 1600u);
}
