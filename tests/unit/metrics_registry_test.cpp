// Counters and histograms keep a stripe per thread (in turn) and sum the
// stripes when read: what several threads add is all there, in the right
// buckets, however many threads there are (more than stripes included).
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "jobrelay/metrics/registry.hpp"

using namespace jobrelay::metrics;

namespace {

template <class Work>
void on_threads(int threads, Work work) {
  std::vector<std::thread> running;
  for (int t = 0; t < threads; ++t) running.emplace_back([&work, t] { work(t); });
  for (auto& r : running) r.join();
}

}  // namespace

TEST(MetricsRegistry, ACounterKeepsEveryThreadsIncrements) {
  for (const int threads : {1, 3, static_cast<int>(detail::stripes) + 4}) {
    counter c;
    on_threads(threads, [&](int t) {
      for (int i = 0; i < 20'000; ++i) c.inc(static_cast<std::uint64_t>(t + 1));
    });
    std::uint64_t expected = 0;
    for (int t = 0; t < threads; ++t) expected += 20'000ull * static_cast<std::uint64_t>(t + 1);
    EXPECT_EQ(c.value(), expected) << threads << " threads";
  }
}

TEST(MetricsRegistry, AHistogramPutsEachValueInTheFirstBucketItFitsAndSumsThem) {
  histogram h({0.5, 0.1, 1.0});  // sorted when made
  h.observe(0.1);                // le="0.1": a value at a bound counts in that bucket
  h.observe(0.2);                // le="0.5"
  h.observe(1.0);                // le="1"
  h.observe(7.0);                // +Inf
  h.observe(-1.0);               // le="0.1"; the sum takes it as 0
  const auto s = h.read();
  EXPECT_EQ(h.bounds(), (std::vector<double>{0.1, 0.5, 1.0}));
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(s.count, 5u);
  EXPECT_NEAR(s.sum, 8.3, 1e-6);
}

TEST(MetricsRegistry, AHistogramKeepsEveryThreadsObservations) {
  const int threads = static_cast<int>(detail::stripes) + 3;
  histogram h({0.001, 0.01, 0.1});
  on_threads(threads, [&](int) {
    for (int i = 0; i < 10'000; ++i) {
      h.observe(0.0005);  // le="0.001"
      h.observe(0.05);    // le="0.1"
      h.observe(2.0);     // +Inf
    }
  });
  const auto s = h.read();
  const std::uint64_t n = 10'000ull * static_cast<std::uint64_t>(threads);
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{n, n, 2 * n, 3 * n}));
  EXPECT_EQ(s.count, 3 * n);
  EXPECT_NEAR(s.sum, static_cast<double>(n) * 2.0505, 1e-3);
}
