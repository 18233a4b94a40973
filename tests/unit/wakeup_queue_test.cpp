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
