#include "jobrelay/api/public_url.hpp"
#include "jobrelay/text.hpp"

#include <cctype>

namespace jobrelay::api {
namespace {

std::string_view first_list_item(std::string_view s) { return trim_ows(s.substr(0, s.find(','))); }

bool is_valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v <= 65535;
}

}  // namespace

bool is_valid_host(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  std::string_view name = host, port;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == host.npos) return false;
    for (char c : host.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    const auto rest = host.substr(close + 1);
    if (rest.empty()) return close > 1;
    return rest.front() == ':' && is_valid_port(rest.substr(1));
  }
  if (const auto colon = host.find(':'); colon != host.npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (!is_valid_port(port)) return false;
  }
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

std::optional<std::string> public_base_url(const http::request& req, bool peer_is_trusted_proxy,
                                           std::string_view configured_public_url) {
  if (!configured_public_url.empty()) return std::string(configured_public_url);
  std::string scheme = "http";
  std::string_view host = trim_ows(req[http::field::host]);
  if (peer_is_trusted_proxy) {
    // Schemes are case-insensitive (RFC 3986 3.1); what we hand out is lower case.
    const auto proto = to_lower_ascii(std::string(first_list_item(req["X-Forwarded-Proto"])));
    if (proto == "https" || proto == "http") scheme = proto;
    const auto fwd_host = first_list_item(req["X-Forwarded-Host"]);
    if (is_valid_host(fwd_host)) host = fwd_host;
  }
  if (!is_valid_host(host)) return std::nullopt;
  return scheme + "://" + std::string(host);
}

std::string link_prefix(std::string_view configured_public_url) {
  // check_public_url let through only absolute http(s) URLs with no query,
  // fragment or trailing slash.
  const auto scheme_end = configured_public_url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const auto path = configured_public_url.find('/', scheme_end + 3);
  if (path == std::string_view::npos) return {};
  return std::string(configured_public_url.substr(path));
}

}  // namespace jobrelay::api
