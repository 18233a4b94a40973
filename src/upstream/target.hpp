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
};

// http:// or https:// with a host; anything else is errc::upstream_bad_url.
result<target> parse_target(std::string_view url);

}  // namespace jobrelay::upstream::detail
