// The upstream's status document (API.md "Upstream protocol"), parsed into
// what the engine needs. Status strings are matched case-insensitively with
// the aliases other analyzers use.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "jobrelay/error.hpp"

namespace jobrelay::upstream {

enum class upstream_status { not_started, running, succeeded, failed, canceled };

// nullopt for a string that is no known status or alias.
std::optional<upstream_status> parse_upstream_status(std::string_view text);

struct status_document {
  upstream_status status = upstream_status::running;
  std::optional<double> progress;  // 0..1 from percentCompleted 0..100
  std::string result_json;         // serialized `result`, when present
  std::string error_json;          // serialized `error`, when present
  std::string error_message;       // error.message when it is a string
};

// errc::upstream_protocol for anything that is not a JSON object with a known
// `status`; the depth of the text is bounded before parsing.
result<status_document> parse_status_document(std::string_view body);
// The same, free to take over `body`'s buffer for the result (a finished
// job's result need not be copied out of the answer that carried it).
result<status_document> parse_owned_status_document(std::string body);

}  // namespace jobrelay::upstream
