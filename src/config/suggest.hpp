// "Did you mean" for misspelt configuration keys and environment variables.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobrelay::config_detail {

// Case-insensitive edit distance (insert, delete, substitute).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a typo
// (a couple of edits, fewer for short words) or `word` is a prefix of it.
std::optional<std::string> closest_match(std::string_view word,
                                         const std::vector<std::string>& candidates);

}  // namespace jobrelay::config_detail
