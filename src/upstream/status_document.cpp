#include "jobrelay/upstream/status_document.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "jobrelay/json_guard.hpp"
#include "jobrelay/text.hpp"

namespace jobrelay::upstream {
namespace {

constexpr std::array<std::pair<std::string_view, upstream_status>, 16> aliases{{
    {"notStarted", upstream_status::not_started},
    {"queued", upstream_status::not_started},
    {"pending", upstream_status::not_started},
    {"running", upstream_status::running},
    {"inProgress", upstream_status::running},
    {"started", upstream_status::running},
    {"processing", upstream_status::running},
    {"succeeded", upstream_status::succeeded},
    {"completed", upstream_status::succeeded},
    {"success", upstream_status::succeeded},
    {"failed", upstream_status::failed},
    {"failure", upstream_status::failed},
    {"error", upstream_status::failed},
    {"canceled", upstream_status::canceled},
    {"cancelled", upstream_status::canceled},
    {"not_started", upstream_status::not_started},
}};

}  // namespace

std::optional<upstream_status> parse_upstream_status(std::string_view text) {
  for (const auto& [name, status] : aliases)
    if (iequals_ascii(name, text)) return status;
  return std::nullopt;
}

result<status_document> parse_status_document(std::string_view body) {
  auto parsed = parse_untrusted_json(body);
  if (!parsed || !parsed->is_object()) return errc::upstream_protocol;
  const auto& doc = *parsed;
  const auto status_it = doc.find("status");
  if (status_it == doc.end() || !status_it->is_string()) return errc::upstream_protocol;
  const auto status = parse_upstream_status(status_it->get_ref<const std::string&>());
  if (!status) return errc::upstream_protocol;

  status_document out;
  out.status = *status;
  if (const auto it = doc.find("percentCompleted"); it != doc.end() && it->is_number()) {
    const double pct = it->get<double>();
    if (pct == pct) out.progress = std::clamp(pct, 0.0, 100.0) / 100.0;  // NaN is dropped
  }
  if (const auto it = doc.find("result"); it != doc.end()) out.result_json = it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (const auto it = doc.find("error"); it != doc.end()) {
    out.error_json = it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (it->is_object()) {
      if (const auto m = it->find("message"); m != it->end() && m->is_string())
        out.error_message = m->get<std::string>();
    } else if (it->is_string()) {
      out.error_message = it->get<std::string>();
    }
  }
  return out;
}

}  // namespace jobrelay::upstream
