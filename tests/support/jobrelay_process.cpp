#include "jobrelay_process.hpp"

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "http_test_client.hpp"

namespace jobrelay::testing {
namespace {

using namespace std::chrono_literals;

env_list with_test_defaults(env_list env) {
  env.insert(env.begin(), {{"JOBRELAY_RATE_LIMIT__SUBMIT__RATE_PER_SECOND", "0"},
                           {"JOBRELAY_RATE_LIMIT__POLL__RATE_PER_SECOND", "0"},
                           {"JOBRELAY_SERVER__THREADS", "2"},
                           {"JOBRELAY_LOG__ACCESS", "false"}});
  return env;
}

}  // namespace

jobrelay_process::jobrelay_process(const std::string& binary, const std::string& upstream, env_list env)
    : proc({binary, "--listen", "127.0.0.1:0", "--upstream", upstream}, with_test_defaults(std::move(env))) {
  if (!proc.wait_for_output("listening on 127.0.0.1:", 10s)) return;
  proc.wait_for_output(" (upstream", 2s);
  std::smatch m;
  const auto out = proc.output();
  if (std::regex_search(out, m, std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)")))
    port = static_cast<unsigned short>(std::stoi(m[1]));
}

bool jobrelay_process::wait_until_held(int long_polls, int streams) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto stats = nlohmann::json::parse(http_get(port, "/stats").body, nullptr, false);
    if (!stats.is_discarded() && stats["held"]["long_polls"] == long_polls &&
        stats["held"]["event_streams"] == streams)
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace jobrelay::testing
