// The log.format json layout as an spdlog formatter: one JSON object a line,
// {"ts": RFC 3339 UTC with milliseconds, "level", "msg", ...fields}. Lines
// from the "fields" logger arrive with their members already rendered and
// are spliced in; every other line's text is escaped into "msg".
#pragma once

#include <spdlog/formatter.h>

namespace jobrelay::log::detail {

inline constexpr const char* fields_logger_name = "fields";

class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace jobrelay::log::detail
