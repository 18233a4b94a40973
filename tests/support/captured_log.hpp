// spdlog's default logger replaced, for one test, by one that keeps its lines
// in memory, so that a test can wait for a line or count them.
//
// Declare it before anything whose threads log (an io_context's threads) so
// that it outlives them: a thread still logging through it after it is gone
// would use a freed logger.
#pragma once

#include <chrono>
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace jobrelay::testing {

class memory_sink;

class captured_log {
 public:
  captured_log();
  ~captured_log();
  captured_log(const captured_log&) = delete;
  captured_log& operator=(const captured_log&) = delete;

  std::string text() const;
  // Times `needle` occurs in the text so far.
  std::size_t count(const std::string& needle) const;
  // True once the text contains `needle` (false after `timeout`).
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) const;

 private:
  std::shared_ptr<memory_sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace jobrelay::testing
