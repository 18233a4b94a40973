// The real jobrelay service, in process, on 127.0.0.1 with a free port; and
// the bundled mock analyzer the same way. Both stop in their destructors.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http_test_client.hpp"
#include "jobrelay/config.hpp"
#include "jobrelay/mock/mock_analyzer.hpp"

namespace jobrelay::app {
class application;
}

namespace jobrelay::testing {

// Defaults for tests: loopback, port 0, fast polls and retries, quiet logs,
// rate limits off (tests of the limiter turn them on).
config test_config(const std::string& upstream_base_url);

class running_service {
 public:
  explicit running_service(config cfg);
  ~running_service();
  unsigned short port() const { return port_; }
  const config& cfg() const { return cfg_; }
  void stop_and_wait();

  // GET /results/{id} until `done` says so or `timeout` passes; returns the
  // last reply. Waits on the job's own progress, with a short pause between
  // polls, not on a guessed duration.
  reply wait_for(const std::string& id, const std::function<bool(const reply&)>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(15));
  reply wait_until_terminal(const std::string& id,
                            std::chrono::milliseconds timeout = std::chrono::seconds(15));

 private:
  config cfg_;
  std::unique_ptr<app::application> app_;
  unsigned short port_ = 0;
};

class running_mock {
 public:
  explicit running_mock(mock::mock_options options);
  ~running_mock();
  unsigned short port() const;
  std::string base_url() const;
  std::uint64_t submits() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace jobrelay::testing
