#include "child_process.hpp"

#include <sys/prctl.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace jobrelay::testing {

child_process::child_process(std::vector<std::string> argv,
                             std::vector<std::pair<std::string, std::string>> env) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // A test binary that crashes must not leave its servers (redis-server,
    // jobrelay) running: the kernel kills the child with its parent (with
    // the thread that forked it, strictly: tests fork from their own thread).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  reader_ = std::thread([this, fd = fds[0]] { read_output(fd); });
}

child_process::~child_process() {
  if (!wait_exit(std::chrono::milliseconds(0))) {
    kill(pid_, SIGKILL);
    wait_exit(std::chrono::seconds(10));
  }
  if (reader_.joinable()) reader_.join();
}

void child_process::read_output(int fd) {
  char chunk[4096];
  for (;;) {
    const auto n = read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    std::lock_guard lock(mutex_);
    output_.append(chunk, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  close(fd);
  std::lock_guard lock(mutex_);
  output_closed_ = true;
  changed_.notify_all();
}

void child_process::signal(int sig) { kill(pid_, sig); }

bool child_process::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    return output_.find(needle) != std::string::npos || output_closed_;
  }) && output_.find(needle) != std::string::npos;
}

std::string child_process::output() {
  std::lock_guard lock(mutex_);
  return output_;
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
  if (status_) return status_;
  bool closed = false;
  {
    // The pipe closes when the process ends: an event to wait on, not a poll.
    std::unique_lock lock(mutex_);
    closed = changed_.wait_for(lock, timeout, [&] { return output_closed_; });
  }
  int raw = 0;
  const pid_t done = waitpid(pid_, &raw, closed ? 0 : WNOHANG);
  if (done != pid_) return std::nullopt;
  status_ = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return status_;
}

}  // namespace jobrelay::testing
