// An io_context run by two threads, for tests of clients that must be
// thread-safe (the service calls them from every I/O thread). Joining is
// explicit because order matters: a fixture stops its clients first, then
// joins, and only then lets its members (servers, captured logs) go.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>
#include <vector>

namespace jobrelay::testing {

class threaded_io : public boost::asio::io_context {
 public:
  threaded_io();
  ~threaded_io();
  threaded_io(const threaded_io&) = delete;
  threaded_io& operator=(const threaded_io&) = delete;

  // Lets go of the work guard, stops the context and joins its threads.
  // Idempotent; the destructor calls it too.
  void stop_and_join();

 private:
  boost::asio::executor_work_guard<executor_type> work_;
  std::vector<std::thread> threads_;
};

}  // namespace jobrelay::testing
