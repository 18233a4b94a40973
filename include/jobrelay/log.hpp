// Logging set-up and lines with fields. Everything logs through spdlog; this
// adds the two things spdlog does not have: a JSON line format (log.format
// json, one object a line, fields documented in README "Logs") and lines
// that carry named fields (request_id, status, ...) which the text format
// prints as key=value and the JSON format as members.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <variant>

namespace spdlog::sinks {
class sink;
}

namespace jobrelay::log {

enum class level { debug, info, warn, error };

struct field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, std::uint64_t, double> value;
};

// Installs the process-wide logger on standard output: `level_name` as
// log.level, `format_name` "text" or "json" (both validated by the config
// loader). The level is the default logger's: spdlog::set_level still works.
void configure(std::string_view level_name, std::string_view format_name);
// The same onto any sink (tests capture lines this way).
void configure_sink(std::shared_ptr<spdlog::sinks::sink> sink, std::string_view level_name,
                    std::string_view format_name);

// One line: text "message key=value ...", JSON {"ts","level","msg",key:value...}.
void write(level lvl, std::string_view message, std::initializer_list<field> fields);

bool enabled(level lvl);

}  // namespace jobrelay::log
