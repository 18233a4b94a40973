#include "jobrelay/listen_address.hpp"

#include <charconv>

namespace jobrelay {
namespace {

std::optional<listen_address> fail(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return std::nullopt;
}

}  // namespace

std::optional<listen_address> parse_listen_address(std::string_view text, std::string* why) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(why, "expected [ipv6]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(why, "expected host:port");
    host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos)
      return fail(why, "write an IPv6 address in brackets, e.g. [::]:8080");
    port = text.substr(colon + 1);
  }

  unsigned port_number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || port_number > 65535)
    return fail(why, "port must be a number 0..65535");

  boost::system::error_code address_error;
  boost::asio::ip::address address =
      host == "localhost" ? boost::asio::ip::address(boost::asio::ip::address_v4::loopback())
                          : boost::asio::ip::make_address(std::string(host), address_error);
  const bool bracketed = !text.empty() && text.front() == '[';
  if (address_error || address.is_v6() != bracketed)
  {
    // Appended rather than `"\"" + std::string(host)`: GCC 12 warns about
    // that (-Wrestrict, a false positive).
    std::string message = "\"";
    message += host;
    message += bracketed ? "\" is not an IPv6 address" : "\" is not an IPv4 address or localhost";
    return fail(why, std::move(message));
  }
  return listen_address{address, static_cast<std::uint16_t>(port_number)};
}

}  // namespace jobrelay
