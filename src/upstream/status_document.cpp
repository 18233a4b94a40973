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

namespace {

// The document was validated whole (validate_json: well-formed, valid UTF-8,
// depth bounded), so these scanners may trust its shape. They let a
// poll answer be read without building a tree of the result only to print
// it again: `result` is copied as the bytes the upstream sent.
bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size() && is_ws(s[i])) ++i;
  return i;
}

std::size_t skip_string(std::string_view s, std::size_t i) {  // s[i] == '"'
  for (++i; i < s.size() && s[i] != '"'; ++i)
    if (s[i] == '\\') ++i;
  return i + 1;
}

// One value from s[i]; returns the index just past it.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    std::size_t depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !is_ws(s[i])) ++i;
  return i;
}

// Compact JSON text of a value: its bytes without the whitespace between
// tokens (usually there is none and this is a copy). Member order is kept.
std::string compact(std::string_view value) {
  if (std::none_of(value.begin(), value.end(), is_ws)) return std::string(value);
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size();) {
    if (value[i] == '"') {
      const std::size_t end = skip_string(value, i);
      out.append(value.substr(i, end - i));
      i = end;
    } else {
      // A run of tokens up to the next string or whitespace, appended at once.
      std::size_t end = i;
      while (end < value.size() && value[end] != '"' && !is_ws(value[end])) ++end;
      out.append(value.substr(i, end - i));
      i = end == i ? i + 1 : end;
    }
  }
  return out;
}

std::string decode_string(std::string_view quoted) {
  if (quoted.find('\\') == std::string_view::npos) return std::string(quoted.substr(1, quoted.size() - 2));
  return nlohmann::json::parse(quoted).get<std::string>();
}

// The top-level members the engine reads; a repeated key keeps its last
// value, as a parsed object would.
struct members {
  std::string_view status, percent, result, error;
};

members top_level_members(std::string_view s) {
  members m;
  std::size_t i = skip_ws(s, 0) + 1;  // past '{'
  for (;;) {
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] == '}') break;
    const std::size_t key_end = skip_string(s, i);
    const std::string key = decode_string(s.substr(i, key_end - i));
    i = skip_ws(s, skip_ws(s, key_end) + 1);  // past ':'
    const std::size_t value_end = skip_value(s, i);
    const std::string_view value = s.substr(i, value_end - i);
    if (key == "status") m.status = value;
    else if (key == "percentCompleted") m.percent = value;
    else if (key == "result") m.result = value;
    else if (key == "error") m.error = value;
    i = skip_ws(s, value_end);
    if (i < s.size() && s[i] == ',') ++i;
  }
  return m;
}

}  // namespace

result<status_document> parse_status_document(std::string_view body) {
  const auto checked = validate_json(body);
  if (!checked || *checked != json_type::object) return errc::upstream_protocol;
  const members m = top_level_members(body);
  if (m.status.empty() || m.status.front() != '"') return errc::upstream_protocol;
  const auto status = parse_upstream_status(decode_string(m.status));
  if (!status) return errc::upstream_protocol;

  status_document out;
  out.status = *status;
  if (!m.percent.empty() && m.percent.front() != '"' && m.percent.front() != '{' &&
      m.percent.front() != '[' && m.percent != "true" && m.percent != "false" && m.percent != "null") {
    const double pct = nlohmann::json::parse(m.percent).get<double>();
    if (pct == pct) out.progress = std::clamp(pct, 0.0, 100.0) / 100.0;  // NaN is dropped
  }
  if (!m.result.empty()) out.result_json = compact(m.result);
  if (!m.error.empty()) {
    out.error_json = compact(m.error);
    if (m.error.front() == '"') {
      out.error_message = decode_string(m.error);
    } else if (m.error.front() == '{') {
      const auto error = nlohmann::json::parse(m.error);
      if (const auto it = error.find("message"); it != error.end() && it->is_string())
        out.error_message = it->get<std::string>();
    }
  }
  return out;
}

}  // namespace jobrelay::upstream
