// A program under test in its own process (the real jobrelay binary, so
// signals and exit codes are the real ones): its stdout and stderr are
// collected, and a test waits on what it prints or on its exit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace jobrelay::testing {

class child_process {
 public:
  // argv[0] is the program's path; `env` is added to this process's environment.
  child_process(std::vector<std::string> argv, std::vector<std::pair<std::string, std::string>> env);
  ~child_process();  // SIGKILL and reap when still running
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  void signal(int sig);
  // True once everything it printed contains `needle` (false after `timeout`).
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);
  std::string output();
  // Its exit status (128 + n when killed by signal n); nullopt when it is
  // still running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  void read_output(int fd);

  pid_t pid_ = -1;
  std::optional<int> status_;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string output_;
  bool output_closed_ = false;  // the child and everything it started closed the pipe
};

}  // namespace jobrelay::testing
