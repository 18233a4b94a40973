#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>
#include <string>

#include "jobrelay/json_escape.hpp"
#include "jobrelay/log.hpp"
#include "json_formatter.hpp"

namespace jobrelay::log {

namespace {

// Lines with fields go through their own logger so that the JSON formatter
// can tell their pre-rendered members from plain text. It shares the default
// logger's sink: one stream, one lock, whole lines.
std::shared_ptr<spdlog::logger>& fields_logger() {
  static std::shared_ptr<spdlog::logger> logger;
  return logger;
}

bool json_mode = false;

spdlog::level::level_enum to_spdlog(level lvl) {
  switch (lvl) {
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warn: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

template <class Number>
void append_number(std::string& out, Number n) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, n);
  out.append(text, end);
}

void append_double(std::string& out, double d) {
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%.3f", d);
  out.append(text, static_cast<std::size_t>(n));
}

// Text values are printed bare unless a space, quote or '=' would make the
// line ambiguous; then quoted, with JSON escapes.
void append_text_value(std::string& out, std::string_view v) {
  const bool plain = !v.empty() && v.find_first_of(" \"=\\\t\r\n") == v.npos;
  if (plain) {
    out.append(v);
    return;
  }
  out.push_back('"');
  append_json_escaped(out, v);
  out.push_back('"');
}

}  // namespace

void configure(std::string_view level_name, std::string_view format_name) {
  spdlog::sink_ptr sink;
  if (format_name == "json")
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();  // never colour codes in JSON
  else
    sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  configure_sink(std::move(sink), level_name, format_name);
}

void configure_sink(std::shared_ptr<spdlog::sinks::sink> sink, std::string_view level_name,
                    std::string_view format_name) {
  json_mode = format_name == "json";
  if (json_mode)
    sink->set_formatter(std::make_unique<detail::json_formatter>());
  else
    sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  auto main_logger = std::make_shared<spdlog::logger>("jobrelay", sink);
  main_logger->set_level(spdlog::level::from_str(std::string(level_name)));
  spdlog::set_default_logger(main_logger);
  auto with_fields = std::make_shared<spdlog::logger>(detail::fields_logger_name, sink);
  with_fields->set_level(spdlog::level::trace);  // write() checks the default logger's level
  fields_logger() = std::move(with_fields);
}

bool enabled(level lvl) { return spdlog::default_logger_raw()->should_log(to_spdlog(lvl)); }

void write(level lvl, std::string_view message, std::initializer_list<field> fields) {
  if (!enabled(lvl)) return;
  std::string line;
  line.reserve(128 + message.size());
  if (json_mode) {
    line += "\"msg\":\"";
    append_json_escaped(line, message);
    line += '"';
  } else {
    line += message;
  }
  for (const auto& f : fields) {
    if (json_mode) {
      line += ",\"";
      line += f.key;  // keys are our own identifiers
      line += "\":";
    } else {
      line += ' ';
      line += f.key;
      line += '=';
    }
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) {
            if (json_mode) {
              line += '"';
              append_json_escaped(line, v);
              line += '"';
            } else {
              append_text_value(line, v);
            }
          } else if constexpr (std::is_same_v<T, double>) {
            append_double(line, v);
          } else {
            append_number(line, v);
          }
        },
        f.value);
  }
  // Before configure() (most tests): the default logger, as text.
  const auto& logger = fields_logger();
  auto* target = json_mode && logger ? logger.get() : spdlog::default_logger_raw();
  target->log(to_spdlog(lvl), spdlog::string_view_t(line.data(), line.size()));  // not a format string
}

}  // namespace jobrelay::log
