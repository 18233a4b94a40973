#include "jobrelay/upstream/status_document.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
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

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// s[i] == '"' in a validated text; returns the index just past the string.
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size() && s[i] != '"'; ++i)
    if (s[i] == '\\') ++i;
  return i + 1;
}

// Compact JSON text of a validated value that has whitespace between its
// tokens (validate_json says so): its bytes without that whitespace, member
// order kept. A value without any is copied as it is, so a result is
// stored as the bytes the upstream sent.
std::string compact(std::string_view value) {
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

std::string compact(const json_member& m) {
  return m.value_has_whitespace ? compact(m.value) : std::string(m.value);
}

// A quoted JSON string's content: a view into the text itself, or, when it
// has escapes (rare), into `decoded`. Only escapes need a decoder.
std::string_view string_content(std::string_view quoted, std::string& decoded) {
  if (quoted.find('\\') == std::string_view::npos) return quoted.substr(1, quoted.size() - 2);
  decoded = nlohmann::json::parse(quoted).get<std::string>();
  return decoded;
}

// The top-level members the engine reads, taken from validate_json's single
// pass; a repeated name keeps its last value, as a parsed object would.
class status_members final : public json_member_sink {
 public:
  json_member status, percent, result, error;

  void member(const json_member& m) override {
    std::string decoded;  // an escaped name is the same name
    const std::string_view name = string_content(m.name, decoded);
    if (name == "status")
      status = m;
    else if (name == "percentCompleted")
      percent = m;
    else if (name == "result")
      result = m;
    else if (name == "error")
      error = m;
  }
};

// A JSON number validate_json accepted, as a double: it is finite by then;
// one too small for a double reads as 0, as nlohmann reads it.
double number_value(std::string_view number) {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  return ec == std::errc() ? value : 0.0;
}

// `owner`, when given, holds `body`'s bytes and may be taken over for the
// result (it is left in an unspecified state).
result<status_document> parse(std::string_view body, std::string* owner) {
  status_members m;
  const auto checked = validate_json(body, m);
  if (!checked || *checked != json_type::object) return errc::upstream_protocol;
  const std::string_view status_text = m.status.value;
  if (status_text.empty() || status_text.front() != '"') return errc::upstream_protocol;
  std::string decoded;
  const auto status = parse_upstream_status(string_content(status_text, decoded));
  if (!status) return errc::upstream_protocol;

  status_document out;
  out.status = *status;
  const std::string_view pct = m.percent.value;
  if (!pct.empty() && (pct.front() == '-' || (pct.front() >= '0' && pct.front() <= '9'))) {
    const double value = number_value(pct);
    out.progress = std::clamp(value, 0.0, 100.0) / 100.0;
  }
  if (!m.error.value.empty()) {
    out.error_json = compact(m.error);
    const std::string_view error = m.error.value;
    if (error.front() == '"') {
      std::string decoded_message;
      out.error_message = string_content(error, decoded_message);
    } else if (error.front() == '{') {
      const auto parsed = nlohmann::json::parse(error);
      if (const auto it = parsed.find("message"); it != parsed.end() && it->is_string())
        out.error_message = it->get<std::string>();
    }
  }
  // Last: it may take over the body the other members were read from. A
  // result written without whitespace that is most of the body becomes the
  // body's own bytes, trimmed in place, rather than a copy of a finished
  // job's (possibly large) result; a small one in a big body is copied, so
  // it does not hold the body's size.
  if (!m.result.value.empty()) {
    if (owner != nullptr && !m.result.value_has_whitespace &&
        2 * m.result.value.size() >= body.size()) {
      const auto begin = static_cast<std::size_t>(m.result.value.data() - owner->data());
      owner->resize(begin + m.result.value.size());
      owner->erase(0, begin);
      out.result_json = std::move(*owner);
    } else {
      out.result_json = compact(m.result);
    }
  }
  return out;
}

}  // namespace

result<status_document> parse_status_document(std::string_view body) {
  return parse(body, nullptr);
}

result<status_document> parse_owned_status_document(std::string body) {
  return parse(body, &body);
}

}  // namespace jobrelay::upstream
