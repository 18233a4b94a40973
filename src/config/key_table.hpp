// The one list of configuration keys: each leaf's dotted path, its type, and
// how a JSON value is checked and stored into `config`. The file walker, the
// environment overrides, the flags and --help all work from this list, so a
// key added here is known everywhere at once.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "jobrelay/config.hpp"

namespace jobrelay::config_detail {

enum class value_kind { integer, number, boolean, string, string_list, string_map };

// Checks `value` and stores it; returns an empty string, or what was expected
// (the caller adds the key's name). `env` serves ${VAR} references.
using value_setter =
    std::function<std::string(config& cfg, const nlohmann::json& value, const env_lookup& env)>;

struct key_spec {
  std::string path;  // "rate_limit.submit.burst"
  value_kind kind;
  value_setter apply;
};

const std::vector<key_spec>& known_keys();
const key_spec* find_key(std::string_view path);

// True for "server", "rate_limit.submit", ...: proper prefixes of key paths.
bool is_section(std::string_view path);
// The full paths of the keys and sections directly below `section` ("" = top).
std::vector<std::string> children_of(std::string_view section);

// "rate_limit.submit.burst" -> "JOBRELAY_RATE_LIMIT__SUBMIT__BURST".
std::string env_name(std::string_view path);

// A value as shown in messages, cut short so a pasted blob stays readable.
std::string shown(const nlohmann::json& value);

}  // namespace jobrelay::config_detail
