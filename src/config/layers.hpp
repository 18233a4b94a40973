// The layers of configuration, applied in order of precedence:
// defaults < file < environment < flags, then the checks that span keys.
// Each step appends messages to `errors` instead of stopping, so one run of
// the program reports every mistake in a file.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobrelay/config.hpp"

namespace jobrelay::config_detail {

using error_list = std::vector<std::string>;

void apply_document(const nlohmann::json& doc, config& cfg, const env_lookup& env,
                    error_list& errors);
void apply_environment(config& cfg, const env_lookup& env, error_list& errors);
// `flag` is what the user typed ("--listen"), named in the message.
void apply_flag(const std::string& flag, const std::string& key_path, const std::string& value,
                config& cfg, const env_lookup& env, error_list& errors);
// Defaults that depend on the machine, and rules between keys.
void finish(config& cfg, error_list& errors);

// JOBRELAY_* names in `names` that no key answers to, with suggestions.
void check_unknown_env_names(const std::vector<std::string>& names, error_list& errors);

std::string join_errors(const error_list& errors);

}  // namespace jobrelay::config_detail
