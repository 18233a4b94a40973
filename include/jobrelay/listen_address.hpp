// The `server.listen` value ("host:port", "[v6]:port") as an endpoint: the
// config loader validates with it and the listener binds with it, so both
// agree on what is accepted.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobrelay {

struct listen_address {
  boost::asio::ip::address address;
  std::uint16_t port = 0;  // 0: the OS picks a free port
};

// Accepts an IPv4 literal, "localhost" (127.0.0.1) or a bracketed IPv6
// literal, then ":" and a port 0..65535. On failure `why` (optional) says
// what is wrong. Names other than localhost are refused: binding must not
// depend on DNS at start-up.
std::optional<listen_address> parse_listen_address(std::string_view text,
                                                   std::string* why = nullptr);

}  // namespace jobrelay
