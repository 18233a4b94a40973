// redis://[user:password@]host[:port][/db] and rediss:// into an endpoint.
// Boost.URL does the RFC 3986 part (brackets, percent-decoding); this file
// only says which URLs make sense for Redis, and why not when they don't.
#include "jobrelay/redis/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

#include "jobrelay/text.hpp"
#include "jobrelay/url_authority.hpp"

namespace jobrelay::redis {

namespace {

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

result<endpoint> refuse(std::string* why, std::string reason) {
  if (why != nullptr) *why = std::move(reason);
  return make_error_code(errc::store_unavailable);
}

}  // namespace

result<endpoint> parse_url(std::string_view url, std::string* why) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return refuse(why, "not a URL (expected redis://[user:password@]host:port/db)");
  const boost::urls::url_view& u = *parsed;

  endpoint out;
  if (iequals_ascii(u.scheme(), "rediss")) {
    out.tls = true;
  } else if (!iequals_ascii(u.scheme(), "redis")) {
    return refuse(
        why, "unknown scheme '" + std::string(u.scheme()) + "' (expected redis:// or rediss://)");
  }
  if (!u.has_authority()) return refuse(why, "no host (expected redis://host:port/db)");
  if (!authority_read_whole(u))
    return refuse(why, "malformed host or port (expected redis://host:port/db)");

  out.host = u.host_address();
  if (out.host.empty()) return refuse(why, "no host (expected redis://host:port/db)");

  if (u.has_port()) {
    const std::string_view port = u.port();
    // "redis://host:" has an empty port; RFC 3986 allows it, it means the default.
    if (!port.empty()) {
      unsigned number = 0;
      const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
      if (!all_digits(port) || ec != std::errc() || end != port.data() + port.size() ||
          number == 0 || number > 65535) {
        return refuse(why, "bad port '" + std::string(port) + "' (expected 1-65535)");
      }
      out.port = std::to_string(number);
    }
  }

  if (u.has_userinfo()) {
    out.user = u.user();
    if (u.has_password()) out.password = u.password();
    // A lone name would silently mean no AUTH at all; say so instead.
    if (!out.user.empty() && out.password.empty()) {
      return refuse(why,
                    "a user without a password (for a password alone write "
                    "redis://:password@host)");
    }
  }

  std::string_view path = u.encoded_path();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty()) {
    unsigned db = 0;
    const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (!all_digits(path) || ec != std::errc() || end != path.data() + path.size()) {
      return refuse(why, "database '" + std::string(path) + "' is not a number");
    }
    out.db = db;
  }

  // Other clients put options there (timeouts, pools); ignoring them would
  // make a setting look applied when it is not.
  if (u.has_query()) return refuse(why, "query parameters are not supported");
  if (u.has_fragment()) return refuse(why, "a fragment (#...) is not supported");
  return out;
}

}  // namespace jobrelay::redis
