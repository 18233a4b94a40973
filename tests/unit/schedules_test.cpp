#include <gtest/gtest.h>

#include "jobrelay/jobs/schedules.hpp"

using namespace jobrelay::jobs;
using std::chrono::milliseconds;

TEST(PollSchedule, GrowsByTheFactorUpToTheCap) {
  poll_schedule s(milliseconds(1000), 1.5, milliseconds(3000));
  EXPECT_EQ(s.next(), milliseconds(1000));
  EXPECT_EQ(s.next(), milliseconds(1500));
  EXPECT_EQ(s.next(), milliseconds(2250));
  EXPECT_EQ(s.next(), milliseconds(3000));
  EXPECT_EQ(s.next(), milliseconds(3000));
}

TEST(PollSchedule, UpstreamRetryAfterIsHonoured) {
  poll_schedule s(milliseconds(1000), 2.0, milliseconds(10000));
  EXPECT_EQ(s.next(milliseconds(7000)), milliseconds(7000));
  EXPECT_EQ(s.next(), milliseconds(2000));  // own schedule keeps growing
}

TEST(RetryBackoff, ExponentialWithJitterWithinBounds) {
  const milliseconds base(250), cap(4000);
  EXPECT_EQ(retry_backoff(0, base, cap, 0.0), milliseconds(125));
  EXPECT_EQ(retry_backoff(0, base, cap, 0.999999), milliseconds(249));
  EXPECT_EQ(retry_backoff(2, base, cap, 0.0), milliseconds(500));
  EXPECT_EQ(retry_backoff(3, base, cap, 1.0), milliseconds(2000));
  EXPECT_EQ(retry_backoff(10, base, cap, 1.0), milliseconds(4000));
  EXPECT_EQ(retry_backoff(1000, base, cap, 0.5), milliseconds(3000));  // no overflow
}

TEST(ClientRetryAfter, ShortWhenYoungLongerWithAgeSoonerNearEta) {
  EXPECT_EQ(client_retry_after(0.5, std::nullopt, 1, 10), 1u);
  EXPECT_EQ(client_retry_after(30, std::nullopt, 1, 10), 3u);
  EXPECT_EQ(client_retry_after(600, std::nullopt, 1, 10), 10u);
  EXPECT_EQ(client_retry_after(120, 2L, 1, 10), 2u);   // ETA near
  EXPECT_EQ(client_retry_after(120, 0L, 1, 10), 1u);   // never 0
  EXPECT_EQ(client_retry_after(1, std::nullopt, 0, 0), 1u);  // at least 1 whatever the config
  EXPECT_EQ(client_retry_after(5, std::nullopt, 3, 10), 3u);
}

TEST(Eta, ExtrapolatedFromProgressOverTime) {
  EXPECT_EQ(estimate_eta_seconds(0.0, 10), std::nullopt);
  EXPECT_EQ(estimate_eta_seconds(0.5, 10), 10L);
  EXPECT_EQ(estimate_eta_seconds(0.25, 10), 30L);
  EXPECT_EQ(estimate_eta_seconds(1.0, 10), 0L);
}

TEST(ParseRetryAfter, DelaySecondsOnly) {
  const milliseconds cap(60000);
  EXPECT_EQ(parse_retry_after("3", cap), milliseconds(3000));
  EXPECT_EQ(parse_retry_after(" 0 ", cap), milliseconds(0));
  EXPECT_EQ(parse_retry_after("99999", cap), cap);
  EXPECT_EQ(parse_retry_after("", cap), std::nullopt);
  EXPECT_EQ(parse_retry_after("-1", cap), std::nullopt);
  EXPECT_EQ(parse_retry_after("1.5", cap), std::nullopt);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap), std::nullopt);
}
