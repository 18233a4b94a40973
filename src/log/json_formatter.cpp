#include "json_formatter.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "jobrelay/json_escape.hpp"
#include "jobrelay/log.hpp"

namespace jobrelay::log::detail {

namespace {

void append(spdlog::memory_buf_t& dest, std::string_view text) {
  dest.append(text.data(), text.data() + text.size());
}

void append_timestamp(spdlog::memory_buf_t& dest, spdlog::log_clock::time_point when) {
  using namespace std::chrono;
  const auto since = when.time_since_epoch();
  const std::time_t secs = duration_cast<seconds>(since).count();
  const auto millis = duration_cast<milliseconds>(since).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char text[32];
  const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                              static_cast<int>(millis));
  dest.append(text, text + n);
}

}  // namespace

void json_formatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  append(dest, R"({"ts":")");
  append_timestamp(dest, msg.time);
  append(dest, R"(","level":")");
  const auto lvl = spdlog::level::to_string_view(msg.level);
  dest.append(lvl.data(), lvl.data() + lvl.size());
  append(dest, "\",");
  const std::string_view payload(msg.payload.data(), msg.payload.size());
  if (std::string_view(msg.logger_name.data(), msg.logger_name.size()) == fields_logger_name) {
    append(dest, payload);  // "msg":"...","key":value,... rendered by log::write
  } else {
    std::string escaped;
    append_json_escaped(escaped, payload);
    append(dest, R"("msg":")");
    append(dest, escaped);
    append(dest, "\"");
  }
  append(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> json_formatter::clone() const {
  return std::make_unique<json_formatter>();
}

}  // namespace jobrelay::log::detail
