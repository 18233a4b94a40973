// The real jobrelay binary in its own process on a free loopback port (read
// back from its start-up line), with the test defaults: rate limits off, two
// I/O threads, no access log. For tests that need signals, exit codes,
// kill -9 or several replicas.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "child_process.hpp"

namespace jobrelay::testing {

using env_list = std::vector<std::pair<std::string, std::string>>;

struct jobrelay_process {
  // `binary`: the jobrelay executable; `env` overrides the test defaults.
  jobrelay_process(const std::string& binary, const std::string& upstream, env_list env);

  // Waits until /stats shows the held requests.
  bool wait_until_held(int long_polls, int streams);

  child_process proc;
  unsigned short port = 0;
};

}  // namespace jobrelay::testing
