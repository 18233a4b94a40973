#include "jobrelay/limit/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "jobrelay/clock.hpp"
#include "jobrelay/limit/token_bucket.hpp"

namespace {

using namespace std::chrono_literals;
using jobrelay::manual_clock;
using jobrelay::rate_spec;
using jobrelay::limit::rate_limiter;
using jobrelay::limit::token_bucket;

TEST(TokenBucket, BurstThenRejectionWithTheWaitUntilTheNextToken) {
  manual_clock clock;
  const rate_spec spec{2, 3};  // a token every 500 ms
  token_bucket b = token_bucket::full(spec, clock.now());
  for (int i = 2; i >= 0; --i) {
    const auto r = b.try_take(clock.now(), spec);
    EXPECT_TRUE(r.allowed);
    EXPECT_EQ(r.remaining, static_cast<std::uint64_t>(i));
  }
  const auto rejected = b.try_take(clock.now(), spec);
  EXPECT_FALSE(rejected.allowed);
  EXPECT_EQ(rejected.remaining, 0u);
  EXPECT_EQ(rejected.retry_after, 500ms);
  EXPECT_EQ(rejected.reset, 1500ms);
}

TEST(TokenBucket, WaitingExactlyRetryAfterIsEnoughAndLessIsNot) {
  manual_clock clock;
  const rate_spec spec{3, 1};  // 333.33 ms a token: not a whole number of nanoseconds
  token_bucket b = token_bucket::full(spec, clock.now());
  ASSERT_TRUE(b.try_take(clock.now(), spec).allowed);
  const auto rejected = b.try_take(clock.now(), spec);
  ASSERT_FALSE(rejected.allowed);

  token_bucket early = b;
  clock.advance(rejected.retry_after - 1ms);
  EXPECT_FALSE(early.try_take(clock.now(), spec).allowed);
  clock.advance(1ms);
  EXPECT_TRUE(b.try_take(clock.now(), spec).allowed);
}

TEST(TokenBucket, RefillsAtTheRateUpToTheBurst) {
  manual_clock clock;
  const rate_spec spec{1, 5};
  token_bucket b = token_bucket::full(spec, clock.now());
  for (int i = 0; i < 5; ++i) b.try_take(clock.now(), spec);
  clock.advance(2s);
  EXPECT_EQ(b.try_take(clock.now(), spec).remaining, 1u);
  clock.advance(1h);
  EXPECT_EQ(b.try_take(clock.now(), spec).remaining, 4u) << "never more than the burst";
  EXPECT_EQ(b.full_at(spec), clock.now() + 1s);
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  manual_clock clock;
  const rate_spec off{0, 0};
  token_bucket b = token_bucket::full(off, clock.now());
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(b.try_take(clock.now(), off).allowed);
}

TEST(RateLimiter, BurstThenRejectionCarriesTheHeaderValues) {
  manual_clock clock;
  rate_limiter limiter(rate_spec{1, 5}, clock);
  for (int i = 4; i >= 0; --i) {
    const auto d = limiter.check("a");
    EXPECT_TRUE(d.enabled);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.limit, 5u);
    EXPECT_EQ(d.remaining, static_cast<std::uint64_t>(i));
  }
  const auto d = limiter.check("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.retry_after_seconds, 1u);
  EXPECT_EQ(d.reset_seconds, 5u);
  EXPECT_EQ(d.policy.limit, 5u);
  EXPECT_EQ(d.policy.window_seconds, 5u);
}

TEST(RateLimiter, RetryAfterIsWholeSecondsAndAtLeastOne) {
  manual_clock clock;
  rate_limiter fast(rate_spec{10, 20}, clock);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(fast.check("a").allowed);
  const auto d = fast.check("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 1u) << "100 ms rounds up, never to 0";
  EXPECT_EQ(d.policy.window_seconds, 2u);

  rate_limiter slow(rate_spec{0.4, 1}, clock);  // a token every 2.5 s
  ASSERT_TRUE(slow.check("a").allowed);
  EXPECT_EQ(slow.check("a").retry_after_seconds, 3u);
}

TEST(RateLimiter, AClientThatWaitsRetryAfterIsLetIn) {
  manual_clock clock;
  rate_limiter limiter(rate_spec{0.5, 2}, clock);
  ASSERT_TRUE(limiter.check("a").allowed);
  ASSERT_TRUE(limiter.check("a").allowed);
  const auto rejected = limiter.check("a");
  ASSERT_FALSE(rejected.allowed);
  ASSERT_EQ(rejected.retry_after_seconds, 2u);

  clock.advance(std::chrono::seconds(rejected.retry_after_seconds) - 1ms);
  EXPECT_FALSE(limiter.check("a").allowed);
  clock.advance(1ms);
  EXPECT_TRUE(limiter.check("a").allowed);
}

TEST(RateLimiter, ZeroRateTurnsTheLimitOffAndHoldsNothing) {
  manual_clock clock;
  rate_limiter limiter(rate_spec{0, 0}, clock);
  for (int i = 0; i < 100; ++i) {
    const auto d = limiter.check("a");
    EXPECT_TRUE(d.allowed);
    EXPECT_FALSE(d.enabled);
  }
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(RateLimiter, ClientsAreIndependent) {
  manual_clock clock;
  rate_limiter limiter(rate_spec{1, 2}, clock);
  limiter.check("a");
  limiter.check("a");
  EXPECT_FALSE(limiter.check("a").allowed);
  EXPECT_TRUE(limiter.check("b").allowed);
  EXPECT_EQ(limiter.check("b").remaining, 0u);
  EXPECT_FALSE(limiter.check("a").allowed);
}

TEST(RateLimiter, SweepDropsBucketsOnceTheyWouldHaveRefilled) {
  manual_clock clock;
  rate_limiter limiter(rate_spec{1, 5}, clock);
  limiter.check("a");                              // full again 1 s later
  for (int i = 0; i < 5; ++i) limiter.check("b");  // 5 s later
  EXPECT_EQ(limiter.size(), 2u);

  clock.advance(999ms);
  EXPECT_EQ(limiter.sweep(), 0u);
  clock.advance(1ms);
  EXPECT_EQ(limiter.sweep(), 1u);
  EXPECT_EQ(limiter.size(), 1u);
  clock.advance(4s);
  EXPECT_EQ(limiter.sweep(), 1u);
  EXPECT_EQ(limiter.size(), 0u);

  // Dropping a refilled bucket changes nothing for its client.
  EXPECT_EQ(limiter.check("b").remaining, 4u);
}

TEST(RateLimiter, InsertsSweepRefilledBucketsLazily) {
  manual_clock clock;
  rate_limiter::options opts;
  opts.shards = 1;
  opts.sweep_threshold_per_shard = 10;
  rate_limiter limiter(rate_spec{1, 1}, clock, opts);
  for (int i = 0; i < 10; ++i) limiter.check("old-" + std::to_string(i));
  EXPECT_EQ(limiter.size(), 10u);
  clock.advance(1s);
  limiter.check("new");
  EXPECT_EQ(limiter.size(), 1u);
}

TEST(RateLimiter, ASprayOfAddressesStaysWithinTheCap) {
  manual_clock clock;
  rate_limiter::options opts;
  opts.max_entries = 1024;
  rate_limiter limiter(rate_spec{1, 5}, clock, opts);
  for (int i = 0; i < 100'000; ++i) {
    limiter.check("10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
                  std::to_string(i & 255));
    if (i % 10'000 == 0) clock.advance(1ms);  // too little for anything to refill
  }
  EXPECT_LE(limiter.size(), 1024u);
  EXPECT_GT(limiter.size(), 512u);
}

TEST(RateLimiter, EvictionTakesTheLeastRecentlyUsed) {
  manual_clock clock;
  rate_limiter::options opts;
  opts.shards = 1;
  opts.max_entries = 2;
  rate_limiter limiter(rate_spec{1, 3}, clock, opts);
  limiter.check("a");
  limiter.check("b");
  limiter.check("a");  // b is now the oldest
  limiter.check("c");  // evicts b
  EXPECT_EQ(limiter.size(), 2u);
  EXPECT_EQ(limiter.check("a").remaining, 0u) << "a kept its bucket";
}

TEST(RateLimiter, ConcurrentChecksNeverAdmitMoreThanTheBurst) {
  manual_clock clock;
  rate_limiter limiter(rate_spec{1, 100}, clock);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.check("shared").allowed) ++allowed;
        limiter.check("own-" + std::to_string(i));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
