#include "jobrelay/log_throttle.hpp"

#include <gtest/gtest.h>

using namespace jobrelay;
using namespace std::chrono_literals;

TEST(LogThrottle, OneLinePerIntervalAndTheNextSaysHowManyWereHeldBack) {
  log_throttle throttle(1s);
  const log_throttle::time_point t0{std::chrono::hours(5)};
  std::string note = "stale";
  EXPECT_TRUE(throttle.allow(t0, note));
  EXPECT_EQ(note, "");
  for (int i = 0; i < 9999; ++i) EXPECT_FALSE(throttle.allow(t0 + 999ms, note));
  EXPECT_TRUE(throttle.allow(t0 + 1s, note));
  EXPECT_EQ(note, " (9999 more like it not logged)");
  EXPECT_FALSE(throttle.allow(t0 + 1500ms, note));
  EXPECT_TRUE(throttle.allow(t0 + 5s, note));
  EXPECT_EQ(note, " (1 more like it not logged)");
  EXPECT_TRUE(throttle.allow(t0 + 7s, note));
  EXPECT_EQ(note, "");
}
