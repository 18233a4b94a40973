// Reading a configuration document: JSON that must be an object, with the
// parse error's line and column, and duplicate keys refused (JSON parsers keep
// the last one silently, which hides an edit that did nothing).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <variant>

namespace jobrelay::config_detail {

// On failure, a message without the source's name; the caller prefixes it.
std::variant<nlohmann::json, std::string> parse_config_document(const std::string& text);

}  // namespace jobrelay::config_detail
