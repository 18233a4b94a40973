// Every untrusted JSON text goes through here. validate_json answers "is this
// one JSON value, how deep, of what type" in one pass without allocating, so
// hot paths that only need that skip nlohmann entirely, and
// parse_untrusted_json hands nlohmann only text already known to be valid and
// shallow (nlohmann allocates per token, and deep nesting costs stack).
#pragma once

#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "jobrelay/error.hpp"

namespace jobrelay {

inline constexpr std::size_t max_json_depth = 64;

// validate_json keeps one bit per open array/object on its own stack, so it
// cannot follow nesting deeper than this: a larger depth_limit counts as this.
inline constexpr std::size_t max_validated_json_depth = 1024;

enum class json_type { null, boolean, number, string, array, object };

// Whether `text` is exactly one JSON value (RFC 8259, UTF-8) nested at most
// depth_limit deep, checked in one pass without building it: what nlohmann's
// accept() says, without its recursion or allocations, and with its quirks
// (a UTF-8 BOM at the very start is skipped, a number that overflows a double
// is invalid) but one: nlohmann takes a NUL byte after the value for the end
// of the text and ignores what follows; here that is invalid.
// errc::json_too_deep when the nesting passes depth_limit before any other
// error is met, errc::json_invalid otherwise; never throws.
result<json_type> validate_json(std::string_view text, std::size_t depth_limit = max_json_depth);

// One member of a top-level object, as validate_json met it: what a reader
// of a few known members needs without walking the text a second time.
struct json_member {
  std::string_view name;              // the quoted name as written: quotes, escapes and all
  std::string_view value;             // the value's text, first byte to last
  bool value_has_whitespace = false;  // whitespace between the value's tokens
};

class json_member_sink {
 public:
  virtual void member(const json_member& m) = 0;

 protected:
  ~json_member_sink() = default;
};

// validate_json that also hands each member of a top-level object to `sink`
// in text order (a repeated name comes again). Members met before an error
// are handed over too: use them only when the result is an object.
result<json_type> validate_json(std::string_view text, json_member_sink& sink,
                                std::size_t depth_limit = max_json_depth);

// Depth of the deepest array/object nesting, ignoring brackets inside strings;
// stops counting once it exceeds `limit`. Pure and linear.
std::size_t json_nesting_depth(std::string_view text, std::size_t limit = max_json_depth);

// validate_json's errors (errc::json_too_deep or errc::json_invalid), else the
// parsed value; never throws.
result<nlohmann::json> parse_untrusted_json(std::string_view text,
                                            std::size_t depth_limit = max_json_depth);

}  // namespace jobrelay
