// rate_limit.backend: redis (API.md "Rate limiting", "Scale-out"): one token
// bucket per client shared by the replicas through a real redis-server, and
// the replica's own buckets while that Redis cannot answer. First the limiter
// alone (its script's arithmetic, keys and expiry, its fallback and log
// lines), then two in-process services: requests alternated across them share
// one bucket, another client has its own, and Redis killed and restarted
// costs neither a 503 nor a hang.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "captured_log.hpp"
#include "jobrelay/clock.hpp"
#include "jobrelay/limit/rate_limiter.hpp"
#include "jobrelay/limit/shared_rate_limiter.hpp"
#include "jobrelay/redis/client.hpp"
#include "redis_server.hpp"
#include "service_fixture.hpp"
#include "threaded_io.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace jobrelay;
using namespace jobrelay::testing;
using jobrelay::limit::decision;
using jobrelay::limit::rate_limiter;
using jobrelay::limit::shared_rate_limiter;
using steady = std::chrono::steady_clock;

// Polls `condition` until it holds; false after `timeout`.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (!condition()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}


// ---- the limiter alone ---------------------------------------------------------

// A "replica": a Redis client and a local fallback limiter, on a two-thread
// io_context as in the service.
class SharedRateLimiter : public ::testing::Test {
 protected:
  ~SharedRateLimiter() override {
    for (auto& c : clients_) c->stop();
    io_.stop_and_join();
  }

  void SetUp() override {
    if (!redis_server::available()) GTEST_SKIP() << redis_server::missing_reason();
    redis_ = std::make_unique<redis_server>();
  }

  redis::client& started_client(const std::string& url) {
    clients_.push_back(std::make_unique<redis::client>(io_.get_executor(), *redis::parse_url(url),
                                                       quick_redis_options()));
    clients_.back()->start();
    EXPECT_TRUE(eventually([&] { return clients_.back()->connected(); }, 10s));
    return *clients_.back();
  }

  template <class T>
  T run(asio::awaitable<T> op) {
    auto done = asio::co_spawn(asio::make_strand(io_), std::move(op), asio::use_future);
    if (done.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "still running after 20 s";
      return T{};
    }
    return done.get();
  }

  decision check(shared_rate_limiter& limiter, std::string client) {
    return run(check_op(limiter, std::move(client)));
  }

  // The coroutine owns the client id for as long as the check runs.
  static asio::awaitable<decision> check_op(shared_rate_limiter& limiter, std::string client) {
    auto d = co_await limiter.check(client);
    co_return d;
  }

  redis::reply command(redis::client& c, redis::command cmd) {
    auto r = run(command_op(c, std::move(cmd)));
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : redis::reply{};
  }
  static asio::awaitable<result<redis::reply>> command_op(redis::client& c, redis::command cmd) {
    auto r = co_await c.execute(std::move(cmd));
    co_return r;
  }

  captured_log log_;  // first: it outlives the threads that log into it
  threaded_io io_;
  std::unique_ptr<redis_server> redis_;
  std::vector<std::unique_ptr<redis::client>> clients_;
};

TEST_F(SharedRateLimiter, TakesFromABucketInRedisWithTheHeaderValuesOfALocalOne) {
  auto& c = started_client(redis_->url());
  rate_limiter local(rate_spec{0.001, 3}, real_clock());  // a token every 1000 s
  shared_rate_limiter limiter("submit", c, local);

  for (std::uint64_t left : {2u, 1u, 0u}) {
    const auto d = check(limiter, "alice");
    EXPECT_TRUE(d.enabled);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, left);
    EXPECT_EQ(d.limit, 3u);
    EXPECT_EQ(d.policy.window_seconds, 3000u);
    // Within a second or so of Redis time, the refill of what was taken.
    EXPECT_NEAR(double(d.reset_seconds), 1000.0 * double(3 - left), 1.0);
  }
  const auto refused = check(limiter, "alice");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_NEAR(double(refused.retry_after_seconds), 1000.0, 1.0);

  EXPECT_EQ(local.size(), 0u) << "the local buckets were not used";
  EXPECT_EQ(limiter.fallbacks(), 0u);

  // The bucket is a hash that expires when it would be full again: an idle
  // client costs Redis nothing.
  const auto key = limiter.key_for("alice");
  EXPECT_EQ(key, "jobrelay:rl:submit:alice");
  const auto ttl = command(c, {"PTTL", key});
  EXPECT_GT(ttl.integer, 2'990'000);
  EXPECT_LE(ttl.integer, 3'000'000);
  const auto tokens = command(c, {"HGET", key, "tokens"});
  EXPECT_NEAR(std::stod(tokens.str), 0.0, 0.01);
  EXPECT_EQ(command(c, {"HEXISTS", key, "ts"}).integer, 1);
}

TEST_F(SharedRateLimiter, TwoReplicasTakeFromOneBucket) {
  auto& c1 = started_client(redis_->url());
  auto& c2 = started_client(redis_->url());
  rate_limiter local1(rate_spec{0.001, 3}, real_clock()), local2(rate_spec{0.001, 3}, real_clock());
  shared_rate_limiter one("submit", c1, local1), two("submit", c2, local2);

  int allowed = 0;
  for (int i = 0; i < 8; ++i) allowed += check(i % 2 ? two : one, "bob").allowed ? 1 : 0;
  EXPECT_EQ(allowed, 3);
  EXPECT_TRUE(check(one, "carol").allowed) << "another client, another bucket";
}

TEST_F(SharedRateLimiter, SubmitAndPollBucketsAreApart) {
  auto& c = started_client(redis_->url());
  rate_limiter submit_local(rate_spec{0.001, 1}, real_clock()),
      poll_local(rate_spec{0.001, 1}, real_clock());
  shared_rate_limiter submit("submit", c, submit_local), poll("poll", c, poll_local);
  EXPECT_TRUE(check(submit, "dave").allowed);
  EXPECT_FALSE(check(submit, "dave").allowed);
  EXPECT_TRUE(check(poll, "dave").allowed);
}

TEST_F(SharedRateLimiter, ClientIdsAreBinarySafe) {
  auto& c = started_client(redis_->url());
  rate_limiter local(rate_spec{0.001, 1}, real_clock());
  shared_rate_limiter limiter("poll", c, local);
  const std::string odd("a\0b \r\n\xff:*?", 11);
  const std::string prefix("a", 1);  // what a C string would have cut it to
  EXPECT_TRUE(check(limiter, odd).allowed);
  EXPECT_FALSE(check(limiter, odd).allowed);
  EXPECT_TRUE(check(limiter, prefix).allowed);
  EXPECT_EQ(command(c, {"EXISTS", limiter.key_for(odd)}).integer, 1);
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

TEST_F(SharedRateLimiter, RefillsWithRedisTime) {
  auto& c = started_client(redis_->url());
  rate_limiter local(rate_spec{20, 1}, real_clock());  // a token every 50 ms
  shared_rate_limiter limiter("poll", c, local);
  ASSERT_TRUE(check(limiter, "erin").allowed);
  const auto refused = check(limiter, "erin");
  ASSERT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1u) << "50 ms rounds up to a whole second";
  EXPECT_TRUE(eventually([&] { return check(limiter, "erin").allowed; }, 2s));
}

TEST_F(SharedRateLimiter, AnOffLimitAsksRedisNothing) {
  // Never started: any call would fail at once and count a fallback.
  redis::client idle(io_.get_executor(), *redis::parse_url(redis_->url()), quick_redis_options());
  rate_limiter local(rate_spec{0, 0}, real_clock());
  shared_rate_limiter limiter("submit", idle, local);
  for (int i = 0; i < 5; ++i) {
    const auto d = check(limiter, "frank");
    EXPECT_FALSE(d.enabled);
    EXPECT_TRUE(d.allowed);
  }
  EXPECT_EQ(limiter.fallbacks(), 0u);
}

TEST_F(SharedRateLimiter, FallsBackToTheLocalBucketsWhileRedisIsDownAndLogsOnce) {
  auto& c = started_client(redis_->url());
  rate_limiter local(rate_spec{0.001, 2}, real_clock());
  shared_rate_limiter limiter("submit", c, local);
  ASSERT_TRUE(check(limiter, "gina").allowed);
  ASSERT_TRUE(check(limiter, "gina").allowed);
  ASSERT_FALSE(check(limiter, "gina").allowed);

  redis_->stop();
  // The local bucket, full: it was never used while Redis answered.
  const auto started = steady::now();
  EXPECT_TRUE(check(limiter, "gina").allowed);
  EXPECT_TRUE(check(limiter, "gina").allowed);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(check(limiter, "gina").allowed);
  EXPECT_LT(steady::now() - started, 5s) << "no check waits for a Redis that is gone";
  EXPECT_EQ(limiter.fallbacks(), 22u);
  EXPECT_EQ(local.size(), 1u);
  EXPECT_EQ(log_.count("rate_limit.submit: Redis cannot be used"), 1u);

  redis_->restart();  // empty: "gina" has a full shared bucket again
  EXPECT_TRUE(eventually([&] { return check(limiter, "gina").allowed; }, 10s));
  EXPECT_EQ(check(limiter, "gina").remaining, 0u) << "counted in Redis again";
  EXPECT_EQ(log_.count("rate_limit.submit: Redis answers again"), 1u);
  EXPECT_EQ(log_.count("rate_limit.submit: Redis cannot be used"), 1u);
}

// ---- two services --------------------------------------------------------------

using headers = std::vector<std::pair<std::string, std::string>>;

headers as_key(const std::string& key) {
  return {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + key}};
}

config shared_limits(const std::string& upstream, const std::string& redis_url,
                     const std::string& store_backend) {
  auto cfg = test_config(upstream);
  cfg.rate_limit.backend = "redis";
  cfg.rate_limit.submit = {0.001, 3};  // nothing refills during a test
  cfg.store.backend = store_backend;
  cfg.store.redis_url = redis_url;
  cfg.auth.api_keys = {"key-one", "key-two"};
  cfg.auth.link_secret = "shared-secret-of-the-test";
  return cfg;
}

class SharedRateLimitService : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_server::available()) GTEST_SKIP() << redis_server::missing_reason();
  }
};

TEST_F(SharedRateLimitService, RequestsAlternatedAcrossReplicasShareOneBucketPerClient) {
  redis_server redis;
  running_mock mock({});
  running_service a(shared_limits(mock.base_url(), redis.url(), "redis"));
  running_service b(shared_limits(mock.base_url(), redis.url(), "redis"));
  const unsigned short ports[] = {a.port(), b.port()};

  std::vector<reply> replies;
  for (int i = 0; i < 6; ++i)
    replies.push_back(http_post(ports[i % 2], "/analyze", "{}", as_key("key-one")));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(replies[i].status, 202u) << i << ": " << replies[i].body;
    // One bucket: what one replica took, the other sees gone.
    EXPECT_EQ(
        replies[i].header("RateLimit").rfind("\"submit\";r=" + std::to_string(2 - i) + ";t=", 0),
        0u)
        << replies[i].header("RateLimit");
  }
  for (int i = 3; i < 6; ++i) {
    const auto& r = replies[i];
    EXPECT_EQ(r.status, 429u) << i << " (on replica " << (i % 2 ? "b" : "a") << "): " << r.body;
    EXPECT_GE(std::stoi(r.header("Retry-After").empty() ? "0" : r.header("Retry-After")), 999);
    EXPECT_EQ(r.header("RateLimit-Policy"), "\"submit\";q=3;w=3000");
    EXPECT_EQ(r.header("RateLimit").rfind("\"submit\";r=0;t=", 0), 0u) << r.header("RateLimit");
  }

  // Another client (another API key) has a bucket of its own.
  int accepted = 0;
  for (int i = 0; i < 5; ++i)
    accepted += http_post(ports[i % 2], "/analyze", "{}", as_key("key-two")).status == 202u ? 1 : 0;
  EXPECT_EQ(accepted, 3);
}

TEST_F(SharedRateLimitService, WithRedisDownEachReplicaLimitsOnItsOwnThenSharesAgain) {
  captured_log log;  // before the services: it outlives their threads
  redis_server redis;
  running_mock mock({});
  auto cfg = shared_limits(mock.base_url(), redis.url(), "memory");  // limits alone in Redis
  cfg.rate_limit.submit = {0.001, 2};
  cfg.log.level = "info";
  running_service a(cfg);
  running_service b(cfg);
  const auto post = [](unsigned short port) {
    return http_post(port, "/analyze", "{}", as_key("key-one"));
  };

  EXPECT_EQ(post(a.port()).status, 202u);
  EXPECT_EQ(post(b.port()).status, 202u);
  EXPECT_EQ(post(a.port()).status, 429u) << "shared";

  redis.stop();
  // Each replica's own bucket, full: they were not used while Redis answered.
  for (auto port : {a.port(), b.port()}) {
    for (unsigned expected : {202u, 202u, 429u, 429u}) {
      const auto started = steady::now();
      const auto r = post(port);
      EXPECT_EQ(r.status, expected) << r.body;
      EXPECT_LT(steady::now() - started, 2500ms) << "a request never waits long for a gone Redis";
      if (r.status == 429u) EXPECT_FALSE(r.header("Retry-After").empty());
      EXPECT_FALSE(r.header("RateLimit").empty());
    }
  }
  // One warning per replica, however many requests fell back; each counted.
  EXPECT_EQ(log.count("rate_limit.submit: Redis cannot be used"), 2u) << log.text();
  EXPECT_NE(http_get(a.port(), "/metrics")
                .body.find("jobrelay_rate_limit_fallbacks_total{limit=\"submit\"} 4\n"),
            std::string::npos);

  redis.restart();  // empty: a fresh shared bucket of 2; both local ones are spent
  // A 202 from a replica now can only come from the shared bucket.
  reply first, second;
  EXPECT_TRUE(eventually([&] { return (first = post(a.port())).status == 202u; }, 10s));
  EXPECT_TRUE(eventually([&] { return (second = post(b.port())).status == 202u; }, 10s));
  EXPECT_EQ(first.header("RateLimit").rfind("\"submit\";r=1;", 0), 0u) << first.header("RateLimit");
  EXPECT_EQ(second.header("RateLimit").rfind("\"submit\";r=0;", 0), 0u)
      << second.header("RateLimit");
  EXPECT_EQ(post(a.port()).status, 429u);
  EXPECT_EQ(post(b.port()).status, 429u);
  EXPECT_EQ(log.count("rate_limit.submit: Redis answers again"), 2u) << log.text();
}

}  // namespace
