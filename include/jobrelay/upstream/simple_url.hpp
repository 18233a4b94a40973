// The shape nearly every upstream URL has, taken apart without Boost.URL
// (whose parse costs thousands of instructions per call):
//   http[s]://host[:digits][/path][?query]
// with a host of [A-Za-z0-9.-] (one starting with a digit: only digits and at
// most three dots), and a path and query of RFC 3986 characters only (every
// '%' followed by two hex digits, no fragment). Anything else is not split,
// and the caller falls back to Boost.URL, which decides.
#pragma once

#include <optional>
#include <string_view>

namespace jobrelay::upstream::detail {

struct simple_url {
  std::string_view origin;  // "http[s]://host[:port]", as written
  bool tls = false;
  std::string_view host;
  std::string_view port;   // digits not yet checked for range; empty: none or just ':'
  std::string_view path;   // empty or starting with '/'
  std::string_view query;  // empty or starting with '?'
};

std::optional<simple_url> split_simple_url(std::string_view url);

struct simple_path_query {
  std::string_view path;   // empty or starting with '/'
  std::string_view query;  // empty or starting with '?'
};

// The part after the authority: empty, or starting with '/' or '?'.
std::optional<simple_path_query> split_simple_path_query(std::string_view rest);

}  // namespace jobrelay::upstream::detail
