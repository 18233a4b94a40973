// Validators for the string-shaped configuration values. Each returns an
// empty string when the value is acceptable (possibly after normalizing it in
// place) and otherwise what was expected, for the caller to prefix with the
// key's name.
#pragma once

#include <string>

#include "jobrelay/config.hpp"

namespace jobrelay::config_detail {

std::string check_listen(std::string& value);
// http(s)://host[:port][/path], no credentials, query or fragment; trailing
// slashes are dropped so that base + "/path" never doubles them.
std::string check_http_base_url(std::string& value);
std::string check_public_url(std::string& value);  // as above, or empty
std::string check_origin(std::string& value);      // "*" or scheme://host[:port]
std::string check_redis_url(std::string& value);
std::string check_submit_path(std::string& value);
std::string check_trusted_proxy(std::string& value);
std::string check_api_key(std::string& value);
std::string check_header_name(const std::string& name);
std::string check_header_value(const std::string& value);

// Replaces each ${VAR} from `env`. A missing variable or a malformed
// reference is an error naming it.
std::string expand_env_refs(std::string& value, const env_lookup& env);

}  // namespace jobrelay::config_detail
