#include "jobrelay/store/memory_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

using namespace jobrelay;
using namespace jobrelay::jobs;
using namespace jobrelay::store;
using namespace std::chrono;

namespace {

snapshot_ptr make_job(std::string id, job_status status, std::uint64_t version = 1,
                      std::size_t result_bytes = 0) {
  job_state s;
  s.id = std::move(id);
  s.status = status;
  s.version = version;
  if (status == job_status::succeeded) s.result_json = "\"" + std::string(result_bytes, 'x') + "\"";
  return std::make_shared<const job_snapshot>(s);
}

class MemoryStore : public ::testing::Test {
 protected:
  manual_clock clock;
  memory_store store{{/*max_jobs=*/3, /*max_cache_bytes=*/1 << 30, seconds(60)}, clock};
};

}  // namespace

TEST_F(MemoryStore, FindReturnsWhatWasStoredAndReadingDoesNotDelete) {
  ASSERT_TRUE(store.insert_now(make_job("a", job_status::queued)));
  for (int i = 0; i < 3; ++i) {
    auto found = store.find_now("a");
    ASSERT_TRUE(found);
    EXPECT_EQ((*found)->id(), "a");
  }
  EXPECT_EQ(store.find_now("b").error(), errc::job_not_found);
}

TEST_F(MemoryStore, MaxJobsRefusesNewJobs) {
  ASSERT_TRUE(store.insert_now(make_job("a", job_status::queued)));
  ASSERT_TRUE(store.insert_now(make_job("b", job_status::queued)));
  ASSERT_TRUE(store.insert_now(make_job("c", job_status::queued)));
  EXPECT_EQ(store.insert_now(make_job("d", job_status::queued)).error(), errc::store_full);
  ASSERT_TRUE(store.erase_now("a"));
  EXPECT_TRUE(store.insert_now(make_job("d", job_status::queued)));
}

TEST_F(MemoryStore, TerminalJobsExpireAfterTheirTtlAndRunningOnesDoNot) {
  ASSERT_TRUE(store.insert_now(make_job("run", job_status::running)));
  ASSERT_TRUE(store.insert_now(make_job("done", job_status::queued)));
  ASSERT_TRUE(store.update_now(make_job("done", job_status::succeeded, 2)));
  clock.advance(seconds(59));
  EXPECT_TRUE(store.find_now("done"));
  clock.advance(seconds(1));
  EXPECT_EQ(store.find_now("done").error(), errc::job_not_found);  // before any sweep
  EXPECT_EQ(store.sweep_expired(), 1u);
  EXPECT_EQ(store.stats().jobs, 1u);
  EXPECT_EQ(store.stats().expired, 1u);
  clock.advance(hours(10));
  EXPECT_TRUE(store.find_now("run"));
}

TEST_F(MemoryStore, UpdatesOnlyMoveForwardAndUnknownJobsAreReported) {
  ASSERT_TRUE(store.insert_now(make_job("a", job_status::queued, 1)));
  ASSERT_TRUE(store.update_now(make_job("a", job_status::running, 3)));
  ASSERT_TRUE(store.update_now(make_job("a", job_status::queued, 2)));  // stale: ignored
  EXPECT_EQ((*store.find_now("a"))->status(), job_status::running);
  EXPECT_EQ(store.update_now(make_job("zzz", job_status::running, 2)).error(), errc::job_not_found);
}

TEST_F(MemoryStore, StatsCountJobsByStatus) {
  ASSERT_TRUE(store.insert_now(make_job("a", job_status::queued)));
  ASSERT_TRUE(store.insert_now(make_job("b", job_status::queued)));
  ASSERT_TRUE(store.update_now(make_job("b", job_status::failed, 2)));
  const auto st = store.stats();
  EXPECT_EQ(st.jobs, 2u);
  EXPECT_EQ(st.queued, 1u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_GT(st.bytes, 0u);
}

TEST(MemoryStoreBudget, OverTheByteBudgetTheOldestTerminalResultsGoFirst) {
  manual_clock clock;
  const auto one = make_job("probe", job_status::succeeded, 1, 10000)->byte_size();
  memory_store store({100, 2 * one + one / 2, seconds(3600)}, clock);
  ASSERT_TRUE(store.insert_now(make_job("running", job_status::running)));
  for (auto id : {"t1", "t2", "t3"}) {
    ASSERT_TRUE(store.insert_now(make_job(id, job_status::running)));
    clock.advance(seconds(1));
    ASSERT_TRUE(store.update_now(make_job(id, job_status::succeeded, 2, 10000)));
  }
  EXPECT_FALSE(store.find_now("t1"));  // oldest terminal evicted
  EXPECT_TRUE(store.find_now("t2"));
  EXPECT_TRUE(store.find_now("t3"));
  EXPECT_TRUE(store.find_now("running"));  // running jobs are never evicted
  EXPECT_EQ(store.stats().evicted, 1u);
  EXPECT_LE(store.stats().bytes, 2 * one + one / 2);
}

// Many jobs at once: the table grows (rehashing) while jobs finish, expire in
// batches and are deleted, and every job still there is found as stored.
TEST(MemoryStoreTable, ThousandsOfJobsSurviveGrowthExpiryAndDeletion) {
  manual_clock clock;
  memory_store store{{/*max_jobs=*/100000, /*max_cache_bytes=*/1 << 30, seconds(60)}, clock};
  constexpr int jobs = 20000;
  const auto id = [](int i) { return "j_" + std::to_string(i * 7919); };
  for (int i = 0; i < jobs; ++i) {
    ASSERT_TRUE(store.insert_now(make_job(id(i), job_status::running)));
    if (i % 2 == 0) ASSERT_TRUE(store.update_now(make_job(id(i), job_status::succeeded, 2, 8)));
    if (i == jobs / 2) clock.advance(seconds(30));  // the first half's results expire first
  }
  for (int i = 0; i < jobs; i += 3) {
    if (i % 2 != 0) ASSERT_TRUE(store.erase_now(id(i))) << i;  // running ones: deleted
  }
  clock.advance(seconds(31));  // past the TTL of the first half's results
  store.sweep_expired();
  std::uint64_t succeeded = 0, running = 0;
  for (int i = 0; i < jobs; ++i) {
    const bool expired = i % 2 == 0 && i <= jobs / 2;
    const bool deleted = i % 2 != 0 && i % 3 == 0;
    const auto found = store.find_now(id(i));
    if (expired || deleted) {
      EXPECT_EQ(found.error(), errc::job_not_found) << i;
    } else {
      ++(i % 2 == 0 ? succeeded : running);
      ASSERT_TRUE(found) << i;
      EXPECT_EQ((*found)->id(), id(i));
      EXPECT_EQ((*found)->status(), i % 2 == 0 ? job_status::succeeded : job_status::running);
    }
  }
  const auto stats = store.stats();
  EXPECT_EQ(stats.succeeded, succeeded);
  EXPECT_EQ(stats.running, running);
  EXPECT_EQ(stats.jobs, succeeded + running);
  EXPECT_EQ(succeeded, static_cast<std::uint64_t>(jobs / 4 - 1));
}

// Reads lock only their job's shard while writes go one at a time under the
// write lock: readers on other threads must still see every job whole, its
// versions never going back, and a deleted job never coming back. (Run
// under scripts/sanitize.sh thread, this is also the store's race check.)
TEST(MemoryStoreThreads, ReadersSeeWholeJobsInOrderWhileAWriterChangesThem) {
  manual_clock clock;
  memory_store store{{/*max_jobs=*/100000, /*max_cache_bytes=*/1 << 30, seconds(60)}, clock};
  constexpr int jobs = 2000;
  constexpr std::uint64_t last_version = 6;
  const auto id = [](int i) { return "j_" + std::to_string(i * 7919); };
  for (int i = 0; i < jobs; ++i)
    ASSERT_TRUE(store.insert_now(make_job(id(i), job_status::running)));

  std::atomic<bool> writing{true};
  std::atomic<int> faults{0};
  std::atomic<std::uint64_t> reads_while_writing{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&, r] {
      std::vector<std::uint64_t> seen(jobs, 0);  // 0: not read yet; max(): gone
      constexpr auto gone = std::numeric_limits<std::uint64_t>::max();
      std::uint64_t reads = 0;
      while (writing.load()) {
        for (int k = 0; k < jobs; ++k) {
          const int i = (k * 31 + r * 7) % jobs;
          const auto found = store.find_now(id(i));
          ++reads;
          if (!found) {
            seen[i] = gone;
            continue;
          }
          const auto version = (*found)->state().version;
          if (seen[i] == gone || version < seen[i] || (*found)->id() != id(i)) ++faults;
          seen[i] = version;
        }
      }
      reads_while_writing += reads;
    });

  for (std::uint64_t v = 2; v < last_version; ++v)
    for (int i = 0; i < jobs; ++i)
      ASSERT_TRUE(store.update_now(make_job(id(i), job_status::running, v)));
  for (int i = 0; i < jobs; ++i) {
    if (i % 2 == 0)
      ASSERT_TRUE(store.update_now(make_job(id(i), job_status::succeeded, last_version, 8)));
    if (i % 3 == 0) ASSERT_TRUE(store.erase_now(id(i)));
  }
  clock.advance(seconds(61));
  store.sweep_expired();  // the results that are left expire
  writing = false;
  for (auto& t : readers) t.join();

  EXPECT_EQ(faults.load(), 0);
  EXPECT_GT(reads_while_writing.load(), 0u);
  std::uint64_t left = 0;
  for (int i = 0; i < jobs; ++i) {
    const auto found = store.find_now(id(i));
    const bool stays = i % 2 != 0 && i % 3 != 0;  // running, not deleted
    EXPECT_EQ(found.has_value(), stays) << i;
    if (found) {
      EXPECT_EQ((*found)->state().version, last_version - 1);
      ++left;
    }
  }
  const auto stats = store.stats();
  EXPECT_EQ(stats.jobs, left);
  EXPECT_EQ(stats.running, left);
  EXPECT_EQ(stats.succeeded, 0u);
}
