#include "jobrelay/json_guard.hpp"

#include <nlohmann/json.hpp>

namespace jobrelay {

std::size_t json_nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return deepest;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

result<nlohmann::json> parse_untrusted_json(std::string_view text, std::size_t depth_limit) {
  if (json_nesting_depth(text, depth_limit) > depth_limit) return {boost::system::in_place_error, errc::json_too_deep};
  auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return {boost::system::in_place_error, errc::json_invalid};
  return value;
}

}  // namespace jobrelay
