// The Redis client and subscriber against a real redis-server (killed,
// restarted and paused to play the failures), and against a scripted fake
// for the answers a real one never gives. Calls run on a two-thread
// io_context, as in the service; a test waits for what it expects (a reply,
// a state, a log line), bounded, never for a fixed time.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "captured_log.hpp"
#include "jobrelay/redis/client.hpp"
#include "redis_server.hpp"
#include "test_pki.hpp"
#include "threaded_io.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobrelay::errc;
using jobrelay::result;
using jobrelay::redis::client;
using jobrelay::redis::client_options;
using jobrelay::redis::command;
using jobrelay::redis::endpoint;
using jobrelay::redis::reply;
using jobrelay::redis::script;
using jobrelay::redis::subscriber;
using jobrelay::testing::captured_log;
using jobrelay::testing::redis_server;
using jobrelay::testing::redis_server_options;
using jobrelay::testing::threaded_io;
using steady = std::chrono::steady_clock;

::testing::AssertionResult fails_with(const result<reply>& r, errc expected) {
  if (r) return ::testing::AssertionFailure() << "succeeded (reply \"" << r->str << "\")";
  if (r.error() == make_error_code(expected)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with \"" << r.error().message() << "\" instead of \""
         << make_error_code(expected).message() << "\"";
}

// Polls `condition` until it holds; false after `timeout`.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  while (!condition()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// Counts calls of a hook; a test waits for a count.
class event_count {
 public:
  std::function<void()> hook() {
    return [this] {
      std::lock_guard lock(mutex_);
      ++count_;
      changed_.notify_all();
    };
  }
  int value() {
    std::lock_guard lock(mutex_);
    return count_;
  }
  bool wait_for_at_least(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

// Messages a subscriber delivered.
class inbox {
 public:
  std::function<void(std::string_view, std::string_view)> hook() {
    return [this](std::string_view channel, std::string_view payload) {
      std::lock_guard lock(mutex_);
      messages_.emplace_back(std::string(channel), std::string(payload));
      changed_.notify_all();
    };
  }
  bool wait_for(const std::string& channel, const std::string& payload,
                std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] {
      for (const auto& m : messages_) {
        if (m.first == channel && m.second == payload) return true;
      }
      return false;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::pair<std::string, std::string>> messages_;
};

template <class... Args>
command make_command(Args&&... args) {
  command out;
  (out.emplace_back(std::forward<Args>(args)), ...);
  return out;
}

endpoint where(const std::string& url) {
  std::string why;
  auto parsed = jobrelay::redis::parse_url(url, &why);
  EXPECT_TRUE(parsed) << url << ": " << why;
  return parsed ? *parsed : endpoint{};
}

client_options test_options() { return jobrelay::testing::quick_redis_options(); }

class RedisClient : public ::testing::Test {
 protected:
  ~RedisClient() override { io_.stop_and_join(); }

  void SetUp() override {
    if (!redis_server::available()) GTEST_SKIP() << redis_server::missing_reason();
    redis_ = std::make_unique<redis_server>();
  }

  // Runs `op` in a coroutine of its own strand, as a request handler would,
  // and waits for its end.
  template <class T>
  result<T> run(asio::awaitable<result<T>> op, std::chrono::milliseconds patience = 20s) {
    auto done = asio::co_spawn(asio::make_strand(io_), std::move(op), asio::use_future);
    if (done.wait_for(patience) != std::future_status::ready) {
      ADD_FAILURE() << "call still running after " << patience.count() << " ms";
      return make_error_code(std::errc::timed_out);
    }
    return done.get();
  }

  std::unique_ptr<client> make_client(const std::string& url,
                                      client_options options = test_options()) {
    return std::make_unique<client>(io_.get_executor(), where(url), options);
  }

  // A started client with all its connections up, to the test's Redis or
  // to `url` (a scripted fake).
  std::unique_ptr<client> connected_client(client_options options = test_options(), std::string url = {}) {
    auto c = make_client(url.empty() ? redis_->url() : url, options);
    event_count ups;
    c->on_up(ups.hook());
    c->start();
    EXPECT_TRUE(ups.wait_for_at_least(static_cast<int>(options.connections), 10s));
    c->on_up(nullptr);
    return c;
  }

  // Retries PING until Redis answers: for after a restart.
  bool answers_again(client& c, std::chrono::milliseconds timeout) {
    return eventually([&] { return run(c.execute({"PING"}), 5s).has_value(); }, timeout);
  }

  captured_log log_;  // first: it outlives the threads that log into it
  threaded_io io_;
  std::unique_ptr<redis_server> redis_;
};

// ---- round trips -------------------------------------------------------------

TEST_F(RedisClient, SetThenGet) {
  auto c = connected_client();
  EXPECT_TRUE(c->connected());
  auto set = run(c->execute({"SET", "greeting", "hello"}));
  ASSERT_TRUE(set) << set.error().message();
  EXPECT_EQ(set->type, reply::kind::status);
  EXPECT_EQ(set->str, "OK");

  auto get = run(c->execute({"GET", "greeting"}));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->type, reply::kind::string);
  EXPECT_EQ(get->str, "hello");

  auto missing = run(c->execute({"GET", "nobody-set-this"}));
  ASSERT_TRUE(missing);
  EXPECT_TRUE(missing->is_nil());
}

TEST_F(RedisClient, BinaryValuesSurviveTheRoundTrip) {
  auto c = connected_client();
  const std::string value("line\r\nnext\0after-nul\xff", 22);
  ASSERT_TRUE(run(c->execute({"SET", "binary", value})));
  auto get = run(c->execute({"GET", "binary"}));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, value);
}

TEST_F(RedisClient, CallsBeforeStartFailAtOnce) {
  auto c = make_client(redis_->url());
  EXPECT_FALSE(c->connected());
  const auto t0 = steady::now();
  EXPECT_TRUE(fails_with(run(c->execute({"PING"})), errc::store_unavailable));
  EXPECT_LT(steady::now() - t0, 1s);
}

TEST_F(RedisClient, ThousandConcurrentIncrsAllAnsweredOnce) {
  auto c = connected_client();
  std::vector<std::future<result<reply>>> calls;
  for (int i = 0; i < 1000; ++i) {
    calls.push_back(
        asio::co_spawn(asio::make_strand(io_), c->execute({"INCR", "counter"}), asio::use_future));
  }
  std::set<long long> seen;
  for (auto& call : calls) {
    ASSERT_EQ(call.wait_for(20s), std::future_status::ready);
    auto r = call.get();
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->type, reply::kind::integer);
    seen.insert(r->integer);
  }
  // Each reply went to exactly one caller: 1..1000, each once.
  ASSERT_EQ(seen.size(), 1000u);
  EXPECT_EQ(*seen.begin(), 1);
  EXPECT_EQ(*seen.rbegin(), 1000);
  auto total = run(c->execute({"GET", "counter"}));
  ASSERT_TRUE(total);
  EXPECT_EQ(total->str, "1000");
}

TEST_F(RedisClient, ConcurrentCoroutinesEachGetTheirOwnReplies) {
  auto c = connected_client();
  // Each coroutine writes its own key and reads it back: a reply handed to
  // the wrong caller shows as a wrong value.
  // (Commands built outside co_await: GCC 12 miscompiles a braced list there.)
  auto set_then_get = [&c](int i) -> asio::awaitable<result<reply>> {
    const std::string key = "key:" + std::to_string(i);
    command set_command = make_command("SET", key, "value:" + std::to_string(i));
    auto set = co_await c->execute(std::move(set_command));
    if (!set) co_return set.error();
    command get_command = make_command("GET", key);
    co_return co_await c->execute(std::move(get_command));
  };
  std::vector<std::future<result<reply>>> calls;
  for (int i = 0; i < 300; ++i) {
    calls.push_back(asio::co_spawn(asio::make_strand(io_), set_then_get(i), asio::use_future));
  }
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(calls[i].wait_for(20s), std::future_status::ready);
    auto r = calls[i].get();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->str, "value:" + std::to_string(i));
  }
}

TEST_F(RedisClient, PipelineAnswersInOrder) {
  auto c = connected_client();
  auto replies = run(c->pipeline({{"SET", "p", "1"},
                                  {"INCR", "p"},
                                  {"GET", "p"},
                                  {"RPUSH", "list", "a", "b"},
                                  {"LRANGE", "list", "0", "-1"},
                                  {"INCR", "list"}}));
  ASSERT_TRUE(replies) << replies.error().message();
  ASSERT_EQ(replies->size(), 6u);
  EXPECT_EQ((*replies)[0].str, "OK");
  EXPECT_EQ((*replies)[1].integer, 2);
  EXPECT_EQ((*replies)[2].str, "2");
  EXPECT_EQ((*replies)[3].integer, 2);
  ASSERT_EQ((*replies)[4].elements.size(), 2u);
  EXPECT_EQ((*replies)[4].elements[1].str, "b");
  EXPECT_TRUE((*replies)[5].is_error());  // one error does not fail the others

  auto none = run(c->pipeline({}));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(RedisClient, ErrorRepliesAreRepliesNotFailures) {
  auto c = connected_client();
  ASSERT_TRUE(run(c->execute({"SET", "text", "abc"})));
  auto incr = run(c->execute({"INCR", "text"}));
  ASSERT_TRUE(incr) << incr.error().message();
  EXPECT_EQ(incr->type, reply::kind::error);
  EXPECT_EQ(incr->str.rfind("ERR", 0), 0u) << incr->str;

  auto unknown = run(c->execute({"NO-SUCH-COMMAND"}));
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->is_error());

  auto ping = run(c->execute({"PING"}));
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->str, "PONG");
}

// ---- scripts ---------------------------------------------------------------

TEST_F(RedisClient, EvalLoadsTheScriptWhenRedisDoesNotKnowIt) {
  auto c = connected_client();
  const script s("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
  auto loaded = run(c->execute({"SCRIPT", "LOAD", s.source()}));
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->str, s.sha1());  // our SHA1 is Redis's

  ASSERT_TRUE(run(c->execute({"SCRIPT", "FLUSH"})));
  auto first = run(c->eval(s, {"n"}, {"arg"}));
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_EQ(first->type, reply::kind::array) << first->str;
  ASSERT_EQ(first->elements.size(), 3u);
  EXPECT_EQ(first->elements[0].str, "n");
  EXPECT_EQ(first->elements[1].str, "arg");
  EXPECT_EQ(first->elements[2].integer, 1);

  // EVAL loaded it: the next EVALSHA needs no fallback.
  auto exists = run(c->execute({"SCRIPT", "EXISTS", s.sha1()}));
  ASSERT_TRUE(exists);
  ASSERT_EQ(exists->elements.size(), 1u);
  EXPECT_EQ(exists->elements[0].integer, 1);

  ASSERT_TRUE(run(c->execute({"SCRIPT", "FLUSH"})));
  auto again = run(c->eval(s, {"n"}, {"arg"}));
  ASSERT_TRUE(again);
  ASSERT_EQ(again->elements.size(), 3u);
  EXPECT_EQ(again->elements[2].integer, 2);
}

TEST_F(RedisClient, AScriptsOwnErrorIsItsReply) {
  auto c = connected_client();
  const script s("return redis.error_reply('job is gone')");
  auto r = run(c->eval(s, {}, {}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->is_error());
  EXPECT_EQ(r->str, "job is gone");
}

// ---- failures --------------------------------------------------------------

TEST_F(RedisClient, KilledRedisFailsCallsAtOnce) {
  client_options options = test_options();
  options.command_timeout = 10s;  // a failure seen sooner is not the timeout's
  auto c = connected_client(options);

  // A call in flight when Redis dies: BLPOP waits for a push that never comes.
  // (On a client of its own: a blocking command holds up its whole pipeline.)
  options.connections = 1;
  auto blocked = connected_client(options);
  auto in_flight = asio::co_spawn(asio::make_strand(io_), blocked->execute({"BLPOP", "never", "0"}),
                                  asio::use_future);
  // It is in flight once Redis counts a blocked client.
  ASSERT_TRUE(eventually(
      [&] {
        auto info = run(c->execute({"INFO", "clients"}));
        return info && info->str.find("blocked_clients:1") != std::string::npos;
      },
      5s));

  redis_->stop();
  ASSERT_EQ(in_flight.wait_for(2s), std::future_status::ready);
  EXPECT_TRUE(fails_with(in_flight.get(), errc::store_unavailable));
  ASSERT_TRUE(eventually([&] { return !c->connected(); }, 2s));

  for (int i = 0; i < 5; ++i) {
    const auto t0 = steady::now();
    EXPECT_TRUE(fails_with(run(c->execute({"GET", "k"})), errc::store_unavailable));
    EXPECT_LT(steady::now() - t0, 1s);
  }
  EXPECT_TRUE(log_.wait_for("connection lost (Redis closed the connection)", 2s)) << log_.text();
}

TEST_F(RedisClient, RecoversOnItsOwnAfterARestart) {
  auto c = make_client(redis_->url());
  event_count ups;
  c->on_up(ups.hook());
  c->start();
  ASSERT_TRUE(ups.wait_for_at_least(2, 10s));  // one per connection
  ASSERT_TRUE(run(c->execute({"SET", "before", "1"})));

  redis_->stop();
  ASSERT_TRUE(eventually([&] { return !c->connected(); }, 2s));
  const int ups_while_down = ups.value();
  redis_->restart();

  EXPECT_TRUE(answers_again(*c, 10s));
  EXPECT_TRUE(c->connected());
  EXPECT_TRUE(ups.wait_for_at_least(ups_while_down + 2, 10s));
  EXPECT_TRUE(log_.wait_for("connected again after", 2s)) << log_.text();
}

TEST_F(RedisClient, HangingRedisFailsACallAfterCommandTimeout) {
  client_options options = test_options();
  options.command_timeout = 500ms;
  options.connect_timeout = 500ms;
  auto c = connected_client(options);

  redis_->pause();
  const auto t0 = steady::now();
  EXPECT_TRUE(fails_with(run(c->execute({"GET", "k"}), 10s), errc::store_unavailable));
  const auto waited = steady::now() - t0;
  EXPECT_GE(waited, 450ms);
  EXPECT_LT(waited, 3s);
  EXPECT_TRUE(log_.wait_for("no reply within command_timeout (500 ms)", 2s)) << log_.text();

  // The other connection, idle, finds out by its own PING; reconnecting to a
  // stopped server is not taken for up (the kernel accepts, but the
  // greeting's PING goes unanswered).
  ASSERT_TRUE(eventually([&] { return !c->connected(); }, 3s));
  EXPECT_TRUE(log_.wait_for("still cannot connect (no answer within connect_timeout", 5s))
      << log_.text();
  EXPECT_FALSE(c->connected());

  redis_->resume();
  EXPECT_TRUE(answers_again(*c, 10s));
}

TEST_F(RedisClient, StopFailsPendingAndLaterCallsAsShuttingDown) {
  auto c = connected_client();
  redis_->pause();
  auto pending = asio::co_spawn(asio::make_strand(io_), c->execute({"GET", "k"}), asio::use_future);
  c->stop();
  ASSERT_EQ(pending.wait_for(1s), std::future_status::ready);
  EXPECT_TRUE(fails_with(pending.get(), errc::shutting_down));
  EXPECT_TRUE(fails_with(run(c->execute({"GET", "k"})), errc::shutting_down));
  EXPECT_FALSE(c->connected());
  redis_->resume();
}

TEST_F(RedisClient, CompletesOnTheCallersExecutor) {
  auto c = connected_client();
  // The caller lives on an io_context of its own, with one thread.
  asio::io_context caller_io;
  auto guard = asio::make_work_guard(caller_io);
  std::thread caller_thread([&] { caller_io.run(); });
  auto call = [&c, &caller_io]() -> asio::awaitable<result<reply>> {
    command ping = make_command("PING");
    auto r = co_await c->execute(std::move(ping));
    if (!caller_io.get_executor().running_in_this_thread()) {
      co_return make_error_code(std::errc::invalid_argument);  // resumed elsewhere
    }
    co_return r;
  };
  auto done = asio::co_spawn(caller_io, call(), asio::use_future);
  ASSERT_EQ(done.wait_for(10s), std::future_status::ready);
  auto r = done.get();
  EXPECT_TRUE(r) << r.error().message();
  guard.reset();
  caller_thread.join();
}

// ---- AUTH and SELECT -------------------------------------------------------

class RedisClientAuth : public RedisClient {
 protected:
  void SetUp() override {
    if (!redis_server::available()) GTEST_SKIP() << redis_server::missing_reason();
    redis_ = std::make_unique<redis_server>(
        redis_server_options{.args = {"--requirepass", "s3cret:/@", "--user", "alice", "on",
                                      ">wonder/land", "~*", "&*", "+@all"}});
  }
  std::string url_with(const std::string& userinfo, unsigned db) {
    return "redis://" + userinfo + "@127.0.0.1:" + std::to_string(redis_->port()) + "/" +
           std::to_string(db);
  }
};

TEST_F(RedisClientAuth, PasswordAndDatabaseAreUsed) {
  event_count ups;
  auto in_db5 = make_client(url_with(":s3cret%3A%2F%40", 5));
  auto in_db0 = make_client(url_with(":s3cret%3A%2F%40", 0));
  in_db5->on_up(ups.hook());
  in_db0->on_up(ups.hook());
  in_db5->start();
  in_db0->start();
  ASSERT_TRUE(ups.wait_for_at_least(4, 10s)) << log_.text();

  ASSERT_TRUE(run(in_db5->execute({"SET", "where", "five"})));
  auto from5 = run(in_db5->execute({"GET", "where"}));
  ASSERT_TRUE(from5);
  EXPECT_EQ(from5->str, "five");
  auto from0 = run(in_db0->execute({"GET", "where"}));
  ASSERT_TRUE(from0);
  EXPECT_TRUE(from0->is_nil());
}

TEST_F(RedisClientAuth, UserAndPasswordAreUsed) {
  auto c = make_client(url_with("alice:wonder%2Fland", 2));
  event_count ups;
  c->on_up(ups.hook());
  c->start();
  ASSERT_TRUE(ups.wait_for_at_least(2, 10s)) << log_.text();
  auto who = run(c->execute({"ACL", "WHOAMI"}));
  ASSERT_TRUE(who);
  EXPECT_EQ(who->str, "alice");
}

TEST_F(RedisClientAuth, AWrongPasswordIsAFailingConnectionNotACrash) {
  auto c = make_client(url_with(":hunter2", 0));
  c->start();
  EXPECT_TRUE(log_.wait_for("cannot connect (AUTH refused: WRONGPASS", 10s)) << log_.text();
  EXPECT_FALSE(c->connected());
  EXPECT_TRUE(fails_with(run(c->execute({"PING"})), errc::store_unavailable));
  EXPECT_EQ(log_.text().find("hunter2"), std::string::npos) << "the password was logged";

  auto without = make_client(redis_->url());
  without->start();
  EXPECT_TRUE(log_.wait_for("cannot connect (PING refused: NOAUTH", 10s)) << log_.text();
}

// ---- a peer that is not quite Redis ------------------------------------------

// Accepts connections on loopback and answers each read with what `answer`
// says for that connection's n-th read (0-based); an empty answer closes it.
class scripted_redis {
 public:
  explicit scripted_redis(std::function<std::string(int read)> answer)
      : answer_(std::move(answer)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~scripted_redis() {
    asio::post(io_, [this] { acceptor_.close(); });
    io_.stop();
    thread_.join();
  }
  std::string url() const {
    return "redis://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int accepted() const { return accepted_; }

 private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      ++accepted_;
      serve(std::make_shared<asio::ip::tcp::socket>(std::move(s)), 0);
      accept();
    });
  }
  void serve(std::shared_ptr<asio::ip::tcp::socket> s, int n) {
    auto buffer = std::make_shared<std::array<char, 4096>>();
    s->async_read_some(
        asio::buffer(*buffer), [this, s, n, buffer](boost::system::error_code ec, std::size_t) {
          if (ec) return;
          auto text = std::make_shared<std::string>(answer_(n));
          if (text->empty()) {
            s->close();
            return;
          }
          asio::async_write(*s, asio::buffer(*text),
                            [this, s, n, text](boost::system::error_code ec, std::size_t) {
                              if (!ec) serve(s, n + 1);
                            });
        });
  }

  std::function<std::string(int)> answer_;
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

TEST_F(RedisClient, GarbageFromTheServerBreaksTheConnectionNotTheProcess) {
  scripted_redis fake([](int read) -> std::string {
    if (read == 0) return "+PONG\r\n";  // the greeting's PING
    return "*-7\r\nnot RESP at all\r\n";
  });
  client_options options = test_options();
  options.connections = 1;
  auto c = connected_client(options, fake.url());
  EXPECT_TRUE(fails_with(run(c->execute({"GET", "k"})), errc::store_unavailable));
  EXPECT_TRUE(log_.wait_for("connection lost (protocol error", 2s)) << log_.text();
}

TEST_F(RedisClient, AReplyNobodyAskedForBreaksTheConnection) {
  scripted_redis fake([](int read) -> std::string {
    if (read == 0) return "+PONG\r\n";
    return "+OK\r\n+OK\r\n";  // two answers to one command
  });
  client_options options = test_options();
  options.connections = 1;
  auto c = connected_client(options, fake.url());
  run(c->execute({"GET", "k"}));  // answered or failed: either is fine
  EXPECT_TRUE(log_.wait_for("connection lost (a reply nobody asked for)", 2s)) << log_.text();
}

TEST_F(RedisClient, AnOversizedReplyBreaksTheConnection) {
  scripted_redis fake([](int read) -> std::string {
    if (read == 0) return "+PONG\r\n";
    return "$100000000\r\n" + std::string(3000, 'x');
  });
  client_options options = test_options();
  options.connections = 1;
  options.max_reply_bytes = 1024;
  auto c = connected_client(options, fake.url());
  EXPECT_TRUE(fails_with(run(c->execute({"GET", "k"})), errc::store_unavailable));
  EXPECT_TRUE(log_.wait_for("a reply larger than 1024 bytes", 2s)) << log_.text();
}

TEST_F(RedisClient, AnOutageIsLoggedOnceNotPerAttempt) {
  // Hangs up on every connection at once: each reconnect attempt fails.
  scripted_redis fake([](int) { return std::string(); });
  client_options options = test_options();
  options.connections = 1;
  options.reconnect_min = 1ms;
  options.reconnect_max = 5ms;
  auto c = make_client(fake.url(), options);
  c->start();
  ASSERT_TRUE(eventually([&] { return fake.accepted() >= 30; }, 10s));
  EXPECT_EQ(log_.count("[warning]"), 1u) << log_.text();
  EXPECT_EQ(log_.count(": cannot connect (Redis closed the connection)"), 1u) << log_.text();
  EXPECT_GE(log_.count(": still cannot connect"), 20u) << log_.text();  // at debug level
}

// ---- TLS ---------------------------------------------------------------------

class RedisClientTls : public RedisClient {
 protected:
  void SetUp() override {
    if (!redis_server::available()) GTEST_SKIP() << redis_server::missing_reason();
    const auto server = ca_.issue();
    ca_file_ = std::make_unique<jobrelay::testing::temp_file>(ca_.cert_pem());
    cert_file_ = std::make_unique<jobrelay::testing::temp_file>(server.cert_pem);
    key_file_ = std::make_unique<jobrelay::testing::temp_file>(server.key_pem);
    redis_ =
        std::make_unique<redis_server>(redis_server_options{.tls_cert_file = cert_file_->path(),
                                                            .tls_key_file = key_file_->path(),
                                                            .tls_ca_file = ca_file_->path()});
  }

  jobrelay::testing::test_ca ca_;
  std::unique_ptr<jobrelay::testing::temp_file> ca_file_, cert_file_, key_file_;
};

TEST_F(RedisClientTls, RedissVerifiesTheServerAgainstTheGivenCa) {
  client_options options = test_options();
  options.tls_ca_file = ca_file_->path();
  auto c = connected_client(options);
  ASSERT_TRUE(run(c->execute({"SET", "over", "tls"})));
  auto get = run(c->execute({"GET", "over"}));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, "tls");
}

TEST_F(RedisClientTls, AnUntrustedServerIsRefused) {
  jobrelay::testing::test_ca other("another CA");
  jobrelay::testing::temp_file other_file(other.cert_pem());
  client_options options = test_options();
  options.tls_ca_file = other_file.path();
  auto c = make_client(redis_->url(), options);
  c->start();
  EXPECT_TRUE(log_.wait_for("TLS handshake failed", 10s)) << log_.text();
  EXPECT_FALSE(c->connected());
}

// ---- subscriber --------------------------------------------------------------

class RedisSubscriber : public RedisClient {};

TEST_F(RedisSubscriber, ReceivesPublishedMessages) {
  auto publisher = connected_client();
  subscriber sub(io_.get_executor(), where(redis_->url()), test_options());
  inbox messages;
  event_count ups;
  sub.on_message(messages.hook());
  sub.on_up(ups.hook());
  sub.start({"jobs", "other"});
  ASSERT_TRUE(ups.wait_for_at_least(1, 10s)) << log_.text();
  EXPECT_TRUE(sub.connected());

  auto receivers = run(publisher->execute({"PUBLISH", "jobs", "done:42"}));
  ASSERT_TRUE(receivers);
  EXPECT_EQ(receivers->integer, 1);
  EXPECT_TRUE(messages.wait_for("jobs", "done:42", 5s));
  ASSERT_TRUE(run(publisher->execute({"PUBLISH", "other", std::string("bin\0ary", 7)})));
  EXPECT_TRUE(messages.wait_for("other", std::string("bin\0ary", 7), 5s));

  sub.stop();
  EXPECT_FALSE(sub.connected());
}

TEST_F(RedisSubscriber, ResubscribesAfterARestartAndSaysSo) {
  auto publisher = connected_client();
  subscriber sub(io_.get_executor(), where(redis_->url()), test_options());
  inbox messages;
  event_count ups;
  sub.on_message(messages.hook());
  sub.on_up(ups.hook());
  sub.start({"jobs"});
  ASSERT_TRUE(ups.wait_for_at_least(1, 10s));

  redis_->stop();
  ASSERT_TRUE(eventually([&] { return !sub.connected(); }, 2s));
  redis_->restart();
  ASSERT_TRUE(ups.wait_for_at_least(2, 10s)) << log_.text();
  EXPECT_TRUE(sub.connected());

  ASSERT_TRUE(answers_again(*publisher, 10s));
  auto receivers = run(publisher->execute({"PUBLISH", "jobs", "after-restart"}));
  ASSERT_TRUE(receivers);
  EXPECT_EQ(receivers->integer, 1);
  EXPECT_TRUE(messages.wait_for("jobs", "after-restart", 5s));
}

TEST_F(RedisSubscriber, NoticesAHangingRedisByItsPings) {
  client_options options = test_options();
  options.ping_interval = 100ms;
  options.command_timeout = 300ms;
  options.connect_timeout = 300ms;
  subscriber sub(io_.get_executor(), where(redis_->url()), options);
  event_count ups;
  sub.on_up(ups.hook());
  sub.start({"jobs"});
  ASSERT_TRUE(ups.wait_for_at_least(1, 10s));
  // Its pings are answered and keep it up (Redis counts them).
  auto probe = connected_client();
  EXPECT_TRUE(eventually(
      [&] {
        auto stats = run(probe->execute({"INFO", "commandstats"}));
        const auto at = stats ? stats->str.find("cmdstat_ping:calls=") : std::string::npos;
        return at != std::string::npos && std::stoi(stats->str.substr(at + 19)) >= 8;
      },
      5s));
  EXPECT_TRUE(sub.connected());
  probe.reset();

  redis_->pause();
  EXPECT_TRUE(eventually([&] { return !sub.connected(); }, 3s));
  EXPECT_TRUE(log_.wait_for("no answer to PING within command_timeout (300 ms)", 2s))
      << log_.text();
  redis_->resume();
  EXPECT_TRUE(ups.wait_for_at_least(2, 10s)) << log_.text();
}

}  // namespace
