#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "jobrelay/jobs/wakeup_queue.hpp"

using namespace jobrelay::jobs;
using std::chrono::milliseconds;
using time_point = std::chrono::steady_clock::time_point;

namespace {
std::vector<std::string> due(wakeup_queue<std::string>& q, time_point now) {
  std::vector<std::string> out;
  q.pop_due(now, [&](std::string s) { out.push_back(std::move(s)); });
  return out;
}
}  // namespace

TEST(WakeupQueue, HandsOutOnlyWhatIsDueEarliestFirst) {
  wakeup_queue<std::string> q;
  const time_point t0{};
  q.push(t0 + milliseconds(300), "c");
  q.push(t0 + milliseconds(100), "a");
  q.push(t0 + milliseconds(200), "b");
  EXPECT_EQ(q.next_due(), t0 + milliseconds(100));
  EXPECT_TRUE(due(q, t0 + milliseconds(99)).empty());
  EXPECT_EQ(due(q, t0 + milliseconds(200)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next_due(), t0 + milliseconds(300));
  EXPECT_EQ(due(q, t0 + milliseconds(1000)), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(q.empty());
}

TEST(WakeupQueue, ItemsDueAtTheSameTimeKeepTheirOrder) {
  wakeup_queue<std::string> q;
  const time_point t0{};
  for (const char* s : {"1", "2", "3", "4", "5"}) q.push(t0, s);
  EXPECT_EQ(due(q, t0), (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST(WakeupQueue, AnItemPushedWhileTakingWaitsForItsTime) {
  wakeup_queue<std::string> q;
  const time_point t0{};
  q.push(t0, "first");
  std::vector<std::string> seen;
  q.pop_due(t0, [&](std::string s) {
    seen.push_back(s);
    if (s == "first") q.push(t0 + milliseconds(10), "later");
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"first"}));
  EXPECT_EQ(q.next_due(), t0 + milliseconds(10));
}

TEST(RingTime, RoundsUpToTheTickAndNeverEarly) {
  using std::chrono::microseconds;
  using std::chrono::nanoseconds;
  const milliseconds tick{4};
  const time_point t0{};
  EXPECT_EQ(ring_time(t0, tick), t0);  // on a boundary: rings then
  EXPECT_EQ(ring_time(t0 + milliseconds(8), tick), t0 + milliseconds(8));
  EXPECT_EQ(ring_time(t0 + nanoseconds(1), tick), t0 + milliseconds(4));
  EXPECT_EQ(ring_time(t0 + microseconds(7999), tick), t0 + milliseconds(8));
  EXPECT_EQ(ring_time(t0 + microseconds(8001), tick), t0 + milliseconds(12));
  // Items due within one tick share a ring; the next tick's do not.
  EXPECT_EQ(ring_time(t0 + microseconds(4100), tick), ring_time(t0 + microseconds(7900), tick));
  EXPECT_NE(ring_time(t0 + microseconds(3900), tick), ring_time(t0 + microseconds(4100), tick));
  // Before the clock's epoch (a system clock can be) the same holds.
  EXPECT_EQ(ring_time(t0 - microseconds(5000), tick), t0 - milliseconds(4));
  EXPECT_EQ(ring_time(t0 - milliseconds(8), tick), t0 - milliseconds(8));
  for (long us = -20000; us < 20000; us += 137) {
    const auto due = t0 + microseconds(us);
    const auto ring = ring_time(due, tick);
    EXPECT_GE(ring, due);
    EXPECT_LT(ring - due, tick);
  }
}
