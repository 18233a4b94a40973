// jobrelay assembled: config -> store, upstream client, analyzer adapter,
// engine, client gate, routes, server, I/O threads, signals. main() and the
// integration tests both run the service through this class.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "jobrelay/config.hpp"

namespace jobrelay::app {

// The path pattern of every route the service serves ("/results/{id}", ...),
// once each, from a router built exactly as a running application builds it
// (nothing is bound or started). tests/integration/openapi_routes_test.cpp
// checks docs/openapi.yaml against it.
std::vector<std::string> route_patterns();

class application {
 public:
  // Throws std::runtime_error with a clear message when the service cannot
  // start (address in use, bad TLS CA file, ...): start-up failures only.
  explicit application(config cfg);
  ~application();
  application(const application&) = delete;
  application& operator=(const application&) = delete;

  // Binds, starts the I/O threads and returns. The address is then known.
  void start();
  // Blocks until the service has stopped (after a signal or stop()). False
  // when the drain ran out of time with requests or jobs still open: then
  // destroying the application is unsafe, and main() exits without it.
  bool wait();
  // Graceful: stop accepting, stop jobs, let in-flight requests finish.
  void stop();
  // Handles SIGTERM/SIGINT: the first drains (see stop()), the second ends
  // the process at once with status 128 + signal number.
  void handle_signals();

  std::string local_address() const;  // host:port actually bound
  unsigned short local_port() const;

 private:
  friend std::vector<std::string> route_patterns();
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace jobrelay::app
