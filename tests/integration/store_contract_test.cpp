// One suite for every results store (API.md "Scale-out": memory for one
// replica, Redis for several): what the engine and the handlers rely on holds
// for both. The Redis backend runs against a real redis-server on loopback.
// Lease tests (shared stores only) play two replicas with two store objects.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

#include "jobrelay/redis/client.hpp"
#include "jobrelay/store/memory_store.hpp"
#include "jobrelay/store/redis_store.hpp"
#include "redis_server.hpp"

using namespace jobrelay;
using namespace jobrelay::jobs;
using namespace jobrelay::store;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

snapshot_ptr make_job(std::string id, job_status status, std::uint64_t version = 1) {
  job_state s;
  s.id = std::move(id);
  s.status = status;
  s.version = version;
  s.created_at = s.updated_at = system_time(std::chrono::seconds(1'800'000'000));
  if (status == job_status::succeeded) s.result_json = R"({"pages":3,"text":"é \"q\""})";
  if (status != job_status::queued) s.operation_url = "http://up/ops/" + s.id;
  if (is_terminal(status)) s.finished_at = s.updated_at;
  return std::make_shared<const job_snapshot>(s);
}

constexpr std::uint64_t max_jobs = 5;

// One replica's view of a store: the store and what it needs.
struct replica_store {
  replica_store(asio::io_context& ioc, const std::string& url, std::chrono::milliseconds lease,
                std::chrono::seconds ttl, std::uint64_t cache_bytes = 1 << 20)
      : client(ioc.get_executor(), *redis::parse_url(url)), changes(ioc.get_executor(), *redis::parse_url(url)) {
    redis_store_options o;
    o.max_jobs = max_jobs;
    o.result_ttl = ttl;
    o.lease = lease;
    o.key_prefix = "contract:";
    o.max_cache_bytes = cache_bytes;
    store = std::make_unique<redis_store>(client, changes, o);
    client.start();
    store->start();
  }
  ~replica_store() {
    changes.stop();
    client.stop();
  }
  redis::client client;
  redis::subscriber changes;
  std::unique_ptr<redis_store> store;
};

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    runner = std::thread([this] { ioc.run(); });
    if (GetParam() == "memory") {
      memory = std::make_unique<memory_store>(memory_store_options{max_jobs, 1 << 30, std::chrono::seconds(1)}, clock);
      memory->on_change([this](std::string_view id) { changed(id); });
      store = memory.get();
      return;
    }
    if (!jobrelay::testing::redis_server::available()) GTEST_SKIP() << "redis-server is not installed";
    redis = std::make_unique<jobrelay::testing::redis_server>();
    a = std::make_unique<replica_store>(ioc, redis->url(), 300ms, std::chrono::seconds(1));
    a->store->on_change([this](std::string_view id) { changed(id); });
    store = a->store.get();
    wait_until([&] { return a->client.connected(); });
  }
  void TearDown() override {
    b.reset();
    a.reset();
    work.reset();
    ioc.stop();
    runner.join();
  }

  template <class T>
  T sync(asio::awaitable<T> op) {
    return asio::co_spawn(ioc, std::move(op), asio::use_future).get();
  }
  static void wait_until(const std::function<bool()>& ok, std::chrono::milliseconds within = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!ok() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  }
  void changed(std::string_view id) {
    std::lock_guard lock(mutex);
    changes.emplace_back(id);
  }
  bool saw_change(const std::string& id) {
    std::lock_guard lock(mutex);
    return std::find(changes.begin(), changes.end(), id) != changes.end();
  }
  // Past a terminal job's TTL: the manual clock moves, Redis' own moves.
  void let_ttl_pass(const std::string& id) {
    if (memory) {
      clock.advance(2s);
      memory->sweep_expired();
      return;
    }
    wait_until([&] { return !sync(store->find(id)); });
  }

  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{ioc.get_executor()};
  std::thread runner;
  manual_clock clock;
  std::unique_ptr<memory_store> memory;
  std::unique_ptr<jobrelay::testing::redis_server> redis;
  std::unique_ptr<replica_store> a, b;
  results_store* store = nullptr;
  std::mutex mutex;
  std::vector<std::string> changes;
};

}  // namespace

TEST_P(StoreContract, WhatIsStoredIsFoundWithTheSameDocumentAndETag) {
  const auto job = make_job("job_one", job_status::succeeded);
  auto inserted = sync(store->insert(job));
  ASSERT_TRUE(inserted);
  EXPECT_EQ(inserted->what, insert_outcome::kind::created);
  auto found = sync(store->find("job_one"));
  ASSERT_TRUE(found) << found.error().message();
  const auto now = system_time(std::chrono::seconds(1'800'000'100));
  EXPECT_EQ((*found)->document(now), job->document(now));
  EXPECT_EQ((*found)->etag(), job->etag());
  EXPECT_EQ((*found)->result_json(), job->result_json());
  EXPECT_EQ((*found)->state().operation_url, job->state().operation_url);
  EXPECT_EQ(sync(store->find("job_nobody")).error(), errc::job_not_found);
}

TEST_P(StoreContract, AnUpdateIsSeenByReadersAndWakesWaiters) {
  ASSERT_TRUE(sync(store->insert(make_job("job_u", job_status::queued))));
  ASSERT_TRUE(sync(store->update(make_job("job_u", job_status::running, 2))));
  auto found = sync(store->find("job_u"));
  ASSERT_TRUE(found);
  EXPECT_EQ((*found)->status(), job_status::running);
  EXPECT_EQ((*found)->etag(), "\"2\"");
  wait_until([&] { return saw_change("job_u"); });
  EXPECT_TRUE(saw_change("job_u"));
}

TEST_P(StoreContract, EraseReturnsTheJobAsItWasAndForgetsIt) {
  ASSERT_TRUE(sync(store->insert(make_job("job_e", job_status::running))));
  auto erased = sync(store->erase("job_e"));
  ASSERT_TRUE(erased);
  EXPECT_EQ((*erased)->state().operation_url, "http://up/ops/job_e");
  EXPECT_EQ(sync(store->find("job_e")).error(), errc::job_not_found);
  EXPECT_EQ(sync(store->erase("job_e")).error(), errc::job_not_found);
  EXPECT_EQ(sync(store->update(make_job("job_e", job_status::running, 3))).error(), errc::job_not_found);
}

TEST_P(StoreContract, AnIdempotencyKeyFindsItsJobRefusesAnotherBodyAndDiesWithTheJob) {
  const idempotency_claim claim{"client\norder-1", "digest-a"};
  auto first = sync(store->insert(make_job("job_i1", job_status::queued), claim));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->what, insert_outcome::kind::created);
  auto again = sync(store->insert(make_job("job_i2", job_status::queued), claim));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->what, insert_outcome::kind::reused);
  EXPECT_EQ(again->job->id(), "job_i1");
  EXPECT_EQ(sync(store->find("job_i2")).error(), errc::job_not_found) << "a reused key created a job";
  auto other = sync(store->insert(make_job("job_i3", job_status::queued), idempotency_claim{claim.scoped_key, "digest-b"}));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->what, insert_outcome::kind::conflict);

  ASSERT_TRUE(sync(store->erase("job_i1")));
  auto fresh = sync(store->insert(make_job("job_i4", job_status::queued), claim));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->what, insert_outcome::kind::created);
}

TEST_P(StoreContract, MaxJobsRefusesTheNextJob) {
  for (std::uint64_t i = 0; i < max_jobs; ++i)
    ASSERT_TRUE(sync(store->insert(make_job("job_m" + std::to_string(i), job_status::queued))));
  EXPECT_EQ(sync(store->insert(make_job("job_over", job_status::queued))).error(), errc::store_full);
  EXPECT_EQ(sync(store->find("job_over")).error(), errc::job_not_found);
  EXPECT_TRUE(sync(store->find("job_m0")));  // nothing else lost
}

TEST_P(StoreContract, ATerminalJobExpiresAfterItsTTLAndCountsShowIt) {
  ASSERT_TRUE(sync(store->insert(make_job("job_t", job_status::queued))));
  ASSERT_TRUE(sync(store->update(make_job("job_t", job_status::failed, 2))));
  ASSERT_TRUE(sync(store->insert(make_job("job_keep", job_status::running))));
  sync(store->maintain());
  EXPECT_EQ(store->stats().jobs, 2u);
  EXPECT_EQ(store->stats().failed, 1u);
  let_ttl_pass("job_t");
  EXPECT_EQ(sync(store->find("job_t")).error(), errc::job_not_found);
  EXPECT_TRUE(sync(store->find("job_keep")));  // unfinished jobs do not expire with results
  sync(store->maintain());
  EXPECT_EQ(store->stats().jobs, 1u);
}

// find_at_once may decline (an external store), but whenever it answers it
// answers what find() does: found, unknown, erased or expired. The memory
// store always answers.
TEST_P(StoreContract, FindAtOnceAnswersAsFindDoesWheneverItAnswers) {
  ASSERT_TRUE(sync(store->insert(make_job("job_a", job_status::running))));
  ASSERT_TRUE(sync(store->insert(make_job("job_x", job_status::running))));
  ASSERT_TRUE(sync(store->erase("job_x")));
  ASSERT_TRUE(sync(store->insert(make_job("job_ttl", job_status::queued))));
  ASSERT_TRUE(sync(store->update(make_job("job_ttl", job_status::succeeded, 2))));
  let_ttl_pass("job_ttl");
  for (const std::string id : {"job_a", "job_x", "job_ttl", "job_nobody"}) {
    const auto now = store->find_at_once(id);
    if (memory) EXPECT_TRUE(now.has_value()) << id;
    if (!now) continue;
    const auto awaited = sync(store->find(id));
    ASSERT_EQ(now->has_value(), awaited.has_value()) << id;
    if (awaited)
      EXPECT_EQ((**now)->etag(), (*awaited)->etag()) << id;
    else
      EXPECT_EQ(now->error(), awaited.error()) << id;
  }
  if (memory)
    EXPECT_TRUE(store->find_at_once("job_a").value_or(errc::job_not_found)) << "a stored job";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

// Leases: two replicas' stores on one Redis.
class StoreLeases : public StoreContract {};

TEST_P(StoreLeases, OnlyTheLeaseHolderWritesAndALapsedLeaseIsTakenOverWithTheRunRecord) {
  b = std::make_unique<replica_store>(ioc, redis->url(), 300ms, std::chrono::seconds(1));
  wait_until([&] { return b->client.connected(); });
  ASSERT_TRUE(sync(a->store->insert(make_job("job_l", job_status::queued), std::nullopt,
                                    run_record{R"({"document":"x"})", 50ms})));
  // a holds the lease: b may neither write nor take it.
  EXPECT_EQ(sync(b->store->update(make_job("job_l", job_status::running, 2))).error(), errc::lease_lost);
  auto none = sync(b->store->claim(10));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto renewed = sync(a->store->renew({"job_l"}));
  ASSERT_TRUE(renewed);
  EXPECT_TRUE(renewed->empty());

  // a stops renewing (it died): once the lease lapses, b takes the job with
  // what it needs to submit it.
  std::vector<claimed_job> taken;
  wait_until([&] {
    auto got = sync(b->store->claim(10));
    if (got && !got->empty()) taken = std::move(*got);
    return !taken.empty();
  });
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].job->id(), "job_l");
  EXPECT_EQ(taken[0].run.request_body, R"({"document":"x"})");
  EXPECT_EQ(taken[0].run.next_poll, 50ms);
  // Now a is the one locked out, and told so.
  EXPECT_EQ(sync(a->store->update(make_job("job_l", job_status::running, 2))).error(), errc::lease_lost);
  auto lost = sync(a->store->renew({"job_l"}));
  ASSERT_TRUE(lost);
  EXPECT_EQ(*lost, std::vector<std::string>{"job_l"});
  EXPECT_TRUE(sync(b->store->update(make_job("job_l", job_status::running, 2), 120ms)));
  // Once submitted the body is not kept; a finished job is nobody's to take.
  ASSERT_TRUE(sync(b->store->update(make_job("job_l", job_status::succeeded, 3))));
  sync(b->store->release({"job_l"}));
  auto after = sync(a->store->claim(10));
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->empty());
}

TEST_P(StoreLeases, AReleasedLeaseIsTakenOverAtOnce) {
  b = std::make_unique<replica_store>(ioc, redis->url(), std::chrono::milliseconds(60000), std::chrono::seconds(1));
  wait_until([&] { return b->client.connected(); });
  ASSERT_TRUE(sync(a->store->insert(make_job("job_r", job_status::queued))));
  ASSERT_TRUE(sync(a->store->update(make_job("job_r", job_status::running, 2), 800ms)));
  sync(a->store->release({"job_r"}));
  auto taken = sync(b->store->claim(10));
  ASSERT_TRUE(taken);
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].job->state().operation_url, "http://up/ops/job_r");
  EXPECT_EQ((*taken)[0].run.next_poll, 800ms);
  EXPECT_TRUE((*taken)[0].run.request_body.empty());
}

TEST_P(StoreLeases, ADeletedJobIsNobodysLease) {
  ASSERT_TRUE(sync(a->store->insert(make_job("job_d", job_status::running))));
  ASSERT_TRUE(sync(a->store->erase("job_d")));
  auto lost = sync(a->store->renew({"job_d"}));
  ASSERT_TRUE(lost);
  EXPECT_EQ(*lost, std::vector<std::string>{"job_d"});
  EXPECT_EQ(sync(a->store->update(make_job("job_d", job_status::running, 2))).error(), errc::job_not_found);
}

INSTANTIATE_TEST_SUITE_P(Shared, StoreLeases, ::testing::Values("redis"), [](const auto& info) { return info.param; });

// Finished jobs are cached per replica (within max_cache_bytes); a DELETE on
// another replica reaches the cache through the change message.
TEST_P(StoreLeases, AFinishedJobCachedOnOneReplicaIsDroppedThereWhenAnotherDeletesIt) {
  const auto one = make_job("job_c1", job_status::succeeded);
  const std::uint64_t budget = one->byte_size() + one->byte_size() / 2;  // room for one job, not two
  b = std::make_unique<replica_store>(ioc, redis->url(), 300ms, std::chrono::seconds(60), budget);
  wait_until([&] { return b->client.connected() && b->changes.connected(); });
  ASSERT_TRUE(sync(a->store->insert(make_job("job_c1", job_status::running))));
  ASSERT_TRUE(sync(a->store->update(make_job("job_c1", job_status::succeeded, 2))));
  ASSERT_TRUE(sync(a->store->insert(make_job("job_c2", job_status::running))));
  ASSERT_TRUE(sync(a->store->update(make_job("job_c2", job_status::succeeded, 2))));

  auto read = sync(b->store->find("job_c1"));
  ASSERT_TRUE(read);
  EXPECT_EQ(b->store->stats().bytes, (*read)->byte_size()) << "a finished job read is kept";
  ASSERT_TRUE(sync(b->store->find("job_c2")));
  EXPECT_LE(b->store->stats().bytes, budget) << "max_cache_bytes is respected";
  EXPECT_GT(b->store->stats().bytes, 0u);

  ASSERT_TRUE(sync(a->store->erase("job_c2")));
  wait_until([&] { return !sync(b->store->find("job_c2")); });
  EXPECT_EQ(sync(b->store->find("job_c2")).error(), errc::job_not_found) << "b served a deleted job from its cache";
  EXPECT_EQ(b->store->stats().bytes, 0u);
}
