// The change feed's wake-ups: notify() wakes every waiter of a job,
// notify_one() only the longest-waiting one not woken yet (the admission
// queue of POST /analyze is built on it).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "jobrelay/jobs/change_feed.hpp"

using namespace jobrelay::jobs;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Waiters 1..n subscribe to "room" in that order; `woken` lists those whose
// wait ended with a change, in the order they ran.
struct waiters_on_room {
  asio::io_context ioc;
  change_feed feed;
  std::vector<int> woken;

  asio::awaitable<void> wait_as(int n) {
    const std::string key = "room";
    auto sub = co_await feed.subscribe(key);
    const bool changed = co_await sub.wait(std::chrono::steady_clock::now() + 30s);
    if (changed) woken.push_back(n);
  }
  void start(int n) {
    for (int i = 1; i <= n; ++i) asio::co_spawn(ioc, wait_as(i), asio::detached);
    ioc.poll();  // all subscribed, in order, and waiting
  }
};

}  // namespace

TEST(ChangeFeed, NotifyOneWakesTheLongestWaitingSubscriberAndNotifyWakesAll) {
  waiters_on_room w;
  auto& [ioc, feed, woken] = w;
  w.start(3);
  ASSERT_EQ(feed.waiters(), 3u);

  feed.notify_one("room");
  ioc.poll();
  EXPECT_EQ(woken, std::vector<int>{1});
  feed.notify_one("elsewhere");  // another key wakes nobody
  feed.notify_one("room");
  ioc.poll();
  EXPECT_EQ(woken, (std::vector<int>{1, 2}));
  feed.notify("room");
  ioc.poll();
  EXPECT_EQ(woken, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(feed.waiters(), 0u);
}

TEST(ChangeFeed, TwoNotifyOnesBeforeAnyWaiterRunsWakeTwoDifferentWaiters) {
  waiters_on_room w;
  auto& [ioc, feed, woken] = w;
  w.start(3);
  feed.notify_one("room");
  feed.notify_one("room");  // the first is woken but has not run: the turn goes to the second
  ioc.poll();
  EXPECT_EQ(woken, (std::vector<int>{1, 2}));
  feed.close();
  ioc.poll();
  EXPECT_EQ(woken, (std::vector<int>{1, 2, 3}));
}
