// Absolute URLs handed to clients (Location, Operation-Location), built as
// API.md says: from server.public_url when set, else from the request's Host,
// and from X-Forwarded-Proto / X-Forwarded-Host only when the peer is a
// trusted proxy. Junk in any of them never reaches a header we send.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "jobrelay/http/message.hpp"

namespace jobrelay::api {

// host[:port] where host is a DNS name, IPv4 or [IPv6]; no userinfo, path or
// whitespace.
bool is_valid_host(std::string_view host);

// "scheme://host[:port]" with no trailing slash; nullopt when the request has
// no usable Host (the handler answers 400).
std::optional<std::string> public_base_url(const http::request& req, bool peer_is_trusted_proxy,
                                           std::string_view configured_public_url);

// The path of server.public_url ("/jobrelay" for https://api.example.com/jobrelay),
// for the relative links in job documents; empty when it has none or is unset.
std::string link_prefix(std::string_view configured_public_url);

}  // namespace jobrelay::api
