#include "target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

namespace jobrelay::upstream::detail {

namespace urls = boost::urls;

result<target> parse_target(std::string_view url) {
  auto parsed = urls::parse_uri(url);
  if (!parsed) return make_error_code(errc::upstream_bad_url);
  const urls::url_view& u = *parsed;

  target out;
  if (u.scheme_id() == urls::scheme::https) {
    out.where.tls = true;
  } else if (u.scheme_id() != urls::scheme::http) {
    return make_error_code(errc::upstream_bad_url);
  }
  if (!u.has_authority() || u.encoded_host().empty())
    return make_error_code(errc::upstream_bad_url);
  out.where.host = u.host_address();
  if (out.where.host.empty()) return make_error_code(errc::upstream_bad_url);

  const std::uint16_t default_port = out.where.tls ? 443 : 80;
  out.where.port = default_port;
  // port_number() silently yields 0 on overflow, so the digits are checked here.
  if (u.has_port() && !u.port().empty()) {
    const std::string_view digits = u.port();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535) {
      return make_error_code(errc::upstream_bad_url);
    }
    out.where.port = static_cast<std::uint16_t>(value);
  }

  out.host_header = u.encoded_host();
  if (out.where.port != default_port) out.host_header += ":" + std::to_string(out.where.port);

  out.path = u.encoded_path();
  if (out.path.empty()) out.path = "/";
  if (u.has_query()) {
    out.path += '?';
    out.path += u.encoded_query();
  }
  return out;
}

}  // namespace jobrelay::upstream::detail
