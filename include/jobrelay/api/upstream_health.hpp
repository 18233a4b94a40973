// The upstream's health at a glance, for /stats (API.md: "upstream health"):
// how the last calls went, from the outcomes the engine reports. Recorded on
// the engine's thread for every call, read by /stats on any: plain atomics,
// no lock on the call path.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "jobrelay/clock.hpp"

namespace jobrelay::api {

class upstream_health {
 public:
  explicit upstream_health(const clock& clk) : clk_(clk) {}

  // One finished call: `call` "submit" or "poll"; `outcome` "ok",
  // "transient" (5xx, 429, unreachable, timeout), "protocol" (an answer that
  // breaks the protocol) or "rejected" (a 4xx: the upstream is up and said no
  // to that job, which says nothing of its health).
  void record(std::string_view call, std::string_view outcome);

  // {"status": "unknown" | "ok" | "failing", "consecutive_failures": n,
  //  "last_ok_at": RFC 3339 | null, "last_failure_at": ... | null,
  //  "last_failure": "poll transient" | null}
  nlohmann::json to_json() const;

 private:
  const clock& clk_;
  std::atomic<std::int64_t> last_ok_ms_{0};       // since the epoch; 0: never
  std::atomic<std::int64_t> last_failure_ms_{0};  // since the epoch; 0: never
  std::atomic<std::uint64_t> consecutive_failures_{0};
  std::atomic<std::uint8_t> last_failure_{0};  // index into the names in the .cpp
};

}  // namespace jobrelay::api
