#include "jobrelay/api/upstream_health.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "jobrelay/time_format.hpp"

namespace jobrelay::api {
namespace {

// last_failure_ values: 0 none, then call x outcome.
constexpr std::array<std::string_view, 5> failure_names = {
    "", "submit transient", "submit protocol", "poll transient", "poll protocol"};

std::uint8_t failure_index(std::string_view call, std::string_view outcome) {
  const std::uint8_t base = call == "poll" ? 3 : 1;
  return outcome == "protocol" ? base + 1 : base;
}

nlohmann::json time_or_null(std::int64_t ms) {
  if (ms == 0) return nullptr;
  return format_rfc3339(system_time(std::chrono::milliseconds(ms)));
}

}  // namespace

void upstream_health::record(std::string_view call, std::string_view outcome) {
  if (outcome == "rejected") return;
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clk_.wall_now().time_since_epoch())
          .count();
  if (outcome == "ok") {
    last_ok_ms_.store(now_ms, std::memory_order_relaxed);
    consecutive_failures_.store(0, std::memory_order_relaxed);
    return;
  }
  last_failure_.store(failure_index(call, outcome), std::memory_order_relaxed);
  last_failure_ms_.store(now_ms, std::memory_order_relaxed);
  consecutive_failures_.fetch_add(1, std::memory_order_relaxed);
}

nlohmann::json upstream_health::to_json() const {
  const auto ok_ms = last_ok_ms_.load(std::memory_order_relaxed);
  const auto failure_ms = last_failure_ms_.load(std::memory_order_relaxed);
  const auto failures = consecutive_failures_.load(std::memory_order_relaxed);
  const auto last = last_failure_.load(std::memory_order_relaxed);
  const char* status = failures > 0 ? "failing" : ok_ms != 0 ? "ok" : "unknown";
  nlohmann::json j = {{"status", status},
                      {"consecutive_failures", failures},
                      {"last_ok_at", time_or_null(ok_ms)},
                      {"last_failure_at", time_or_null(failure_ms)},
                      {"last_failure", nullptr}};
  if (last != 0 && last < failure_names.size()) j["last_failure"] = failure_names[last];
  return j;
}

}  // namespace jobrelay::api
