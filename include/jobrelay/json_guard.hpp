// nlohmann's parser recurses once per nesting level, so a body of a million
// '[' would exhaust the stack. Every untrusted JSON text goes through here:
// a linear scan bounds the depth first, then nlohmann parses without
// exceptions.
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "jobrelay/error.hpp"

namespace jobrelay {

inline constexpr std::size_t max_json_depth = 64;

// Depth of the deepest array/object nesting, ignoring brackets inside strings;
// stops counting once it exceeds `limit`. Pure and linear.
std::size_t json_nesting_depth(std::string_view text, std::size_t limit = max_json_depth);

// errc::json_too_deep or errc::json_invalid; never throws.
result<nlohmann::json> parse_untrusted_json(std::string_view text,
                                            std::size_t depth_limit = max_json_depth);

}  // namespace jobrelay
