// A small upstream analyzer speaking API.md's upstream protocol, for demos,
// smoke tests and benchmarks: submit -> 202 + Operation-Location, status
// documents with percentCompleted, a configurable duration and failure rate.
// An operation is a map entry (no timer), so many can be open at once.
// Optionally serves a directory of static files (the browser demo) at /web/.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>

#include "jobrelay/clock.hpp"
#include "jobrelay/http/router.hpp"

namespace jobrelay::mock {

struct mock_options {
  std::chrono::milliseconds duration{5000};
  double failure_rate = 0.0;  // 0..1
  std::uint64_t seed = 1;
  // When set, GET /web/{file} serves the regular files of this directory (the
  // browser demo), so a page can be loaded from an origin other than jobrelay's.
  std::string static_dir;
};

class mock_analyzer {
 public:
  mock_analyzer(mock_options options, const clock& clock);
  void add_routes(http::router& r);

  std::uint64_t submits() const { return submits_.load(); }

 private:
  struct operation {
    steady_time started;
    bool fails = false;
    bool canceled = false;
    std::string input;
  };
  http::response submit(const http::request& req);
  http::response status(std::string_view id);
  http::response cancel(std::string_view id);
  http::response stats() const;
  http::response static_file(std::string_view name) const;

  mock_options options_;
  const clock& clock_;
  std::mutex mutex_;
  std::unordered_map<std::string, operation> operations_;
  std::mt19937_64 rng_;
  std::uint64_t next_id_ = 1;
  std::atomic<std::uint64_t> submits_{0}, polls_{0}, unknown_{0}, cancels_{0};
};

}  // namespace jobrelay::mock
