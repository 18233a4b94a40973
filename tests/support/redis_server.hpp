// A real redis-server for tests, in its own process on a free loopback port:
// started and waited for until it accepts, killed (SIGKILL) and restarted on
// the same port, paused (SIGSTOP) to play a Redis that hangs.
//
//   if (!redis_server::available()) GTEST_SKIP() << redis_server::missing_reason();
//   redis_server redis;                                  // plain, no password
//   redis_server secured({.args = {"--requirepass", "secret"}});
//   client c(executor, *parse_url(redis.url()));
//   redis.stop(); redis.restart(); redis.pause(); redis.resume();
//
// Failures to start throw std::runtime_error (with the server's output): this
// is test set-up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "jobrelay/redis/client.hpp"

namespace jobrelay::testing {

struct redis_server_options {
  std::vector<std::string> args;  // added to the command line, e.g. {"--requirepass", "pw"}
  // Set all three for TLS only (rediss://): PEM files of the server's
  // certificate and key, and of the CA that signed it.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
};

// Client options for tests: quick to notice an outage and to recover, with
// room for a loaded two-core machine.
redis::client_options quick_redis_options();

class redis_server {
 public:
  static constexpr const char* program = "/usr/bin/redis-server";
  // False when redis-server is not installed (scripts/install-deps.sh --test).
  static bool available();
  static std::string missing_reason();

  explicit redis_server(redis_server_options options = {});
  ~redis_server();
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const { return port_; }
  bool tls() const { return !options_.tls_cert_file.empty(); }
  // redis://127.0.0.1:port (rediss:// with TLS), no password, db 0.
  std::string url() const;

  // SIGKILL: connections drop at once, nothing is saved.
  void stop();
  // Starts it again on the same port and waits until it accepts.
  void restart();
  // SIGSTOP / SIGCONT: the kernel still accepts connections, nobody answers.
  void pause();
  void resume();

  std::string output() const;

 private:
  void launch();

  redis_server_options options_;
  std::uint16_t port_ = 0;
  std::unique_ptr<child_process> process_;
  bool paused_ = false;
};

}  // namespace jobrelay::testing
