// Where an upstream URL points: the pool key (origin) and what goes on the
// request line and in the Host header.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "jobrelay/error.hpp"

namespace jobrelay::upstream::detail {

struct origin {
  bool tls = false;
  std::string host;  // decoded, IPv6 without brackets: what DNS, SNI and cert checks want
  std::uint16_t port = 0;

  friend bool operator==(const origin&, const origin&) = default;
  friend auto operator<=>(const origin&, const origin&) = default;
};

struct target {
  origin where;
  std::string host_header;  // as written in the URL, with the port when not the default
  std::string path;         // path and query; never empty

  friend bool operator==(const target&, const target&) = default;
};

// http:// or https:// with a host; anything else is errc::upstream_bad_url.
// The usual shape (simple_url.hpp) is taken apart by hand, the rest by
// parse_target_generic.
result<target> parse_target(std::string_view url);

// The same with Boost.URL for every input: parse_target must agree with it
// byte for byte (tests/unit/upstream_url_test.cpp compares them).
result<target> parse_target_generic(std::string_view url);

}  // namespace jobrelay::upstream::detail
