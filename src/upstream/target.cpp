#include "jobrelay/upstream/target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

#include "jobrelay/upstream/simple_url.hpp"
#include "jobrelay/url_authority.hpp"

namespace jobrelay::upstream::detail {
namespace {

namespace urls = boost::urls;

// Boost.URL's port_number() silently yields 0 on overflow, so the digits are
// checked here. No digits after the ':' mean the default port.
result<std::uint16_t> port_from_digits(std::string_view digits, std::uint16_t default_port) {
  if (digits.empty()) return default_port;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc{} || end != digits.data() + digits.size() || value == 0 || value > 65535) {
    return make_error_code(errc::upstream_bad_url);
  }
  return static_cast<std::uint16_t>(value);
}

// Everything but the path, from the pieces both parsers find the same way.
// Filled in place: a target moved through result<> twice cost more than the
// hand-written split.
boost::system::error_code fill_origin(target& out, bool tls, std::string host,
                                      std::string_view written_host, std::string_view port_digits) {
  out.where.tls = tls;
  out.where.host = std::move(host);
  const std::uint16_t default_port = tls ? 443 : 80;
  auto port = port_from_digits(port_digits, default_port);
  if (!port) return port.error();
  out.where.port = *port;
  out.host_header = written_host;
  if (*port != default_port) {
    char digits[5];
    auto written = std::to_chars(digits, digits + sizeof digits, *port);
    out.host_header += ':';
    out.host_header.append(digits, written.ptr);
  }
  return {};
}

}  // namespace

result<target> parse_target(std::string_view url) {
  const auto simple = split_simple_url(url);
  if (!simple) return parse_target_generic(url);
  target out;
  // The host has nothing to decode, so it is also what the Host header says.
  if (auto ec =
          fill_origin(out, simple->tls, std::string(simple->host), simple->host, simple->port))
    return ec;
  out.path.reserve(1 + simple->path.size() + simple->query.size());
  if (simple->path.empty()) out.path = '/';
  out.path.append(simple->path).append(simple->query);
  return out;
}

result<target> parse_target_generic(std::string_view url) {
  auto parsed = urls::parse_uri(url);
  if (!parsed) return make_error_code(errc::upstream_bad_url);
  const urls::url_view& u = *parsed;

  const bool tls = u.scheme_id() == urls::scheme::https;
  if (!tls && u.scheme_id() != urls::scheme::http) return make_error_code(errc::upstream_bad_url);
  if (!u.has_authority() || u.encoded_host().empty() || !authority_read_whole(u))
    return make_error_code(errc::upstream_bad_url);
  std::string host = u.host_address();
  if (host.empty()) return make_error_code(errc::upstream_bad_url);

  target out;
  if (auto ec =
          fill_origin(out, tls, std::move(host), u.encoded_host(), u.has_port() ? u.port() : ""))
    return ec;
  out.path = u.encoded_path();
  if (out.path.empty()) out.path.push_back('/');
  if (u.has_query()) {
    out.path += '?';
    out.path += u.encoded_query();
  }
  return out;
}

}  // namespace jobrelay::upstream::detail
