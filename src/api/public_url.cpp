#include "jobrelay/api/public_url.hpp"

#include <algorithm>
#include <cctype>

#include "jobrelay/text.hpp"

namespace jobrelay::api {
namespace {

// The right-most value of a list header over all its lines: the one the
// nearest proxy (the trusted one) added or set. Left-most would be whatever
// the client sent when a proxy appends rather than replaces.
std::string_view last_list_item(const http::request& req, std::string_view name) {
  std::string_view last;
  for (const auto& f : req) {
    if (!iequals_ascii(std::string_view(f.name_string().data(), f.name_string().size()), name))
      continue;
    const std::string_view value(f.value().data(), f.value().size());
    last = value;
  }
  const auto comma = last.rfind(',');
  return trim_ows(comma == std::string_view::npos ? last : last.substr(comma + 1));
}

bool is_valid_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v >= 1 && v <= 65535;
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
  // DNS labels: none empty ("..", a leading dot), none starting or ending
  // with '-'; an all-digit last label only in a dotted-quad IPv4 address.
  std::size_t labels = 0;
  bool numeric = true, all_numeric = true;
  for (std::size_t from = 0; from <= name.size();) {
    const auto dot = std::min(name.find('.', from), name.size());
    const auto label = name.substr(from, dot - from);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    numeric = std::all_of(label.begin(), label.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric && (label.size() > 3 || std::stoi(std::string(label)) > 255)) all_numeric = false;
    all_numeric = all_numeric && numeric;
    ++labels;
    from = dot + 1;
  }
  if (numeric && !(all_numeric && labels == 4)) return false;
  return true;
}

std::optional<std::string> public_base_url(const http::request& req, bool peer_is_trusted_proxy,
                                           std::string_view configured_public_url) {
  if (!configured_public_url.empty()) return std::string(configured_public_url);
  std::string scheme = "http";
  std::string_view host = trim_ows(req[http::field::host]);
  if (peer_is_trusted_proxy) {
    // Schemes are case-insensitive (RFC 3986 3.1); what we hand out is lower case.
    const auto proto = to_lower_ascii(std::string(last_list_item(req, "X-Forwarded-Proto")));
    if (proto == "https" || proto == "http") scheme = proto;
    const auto fwd_host = last_list_item(req, "X-Forwarded-Host");
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
