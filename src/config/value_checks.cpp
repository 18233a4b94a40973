#include "value_checks.hpp"

#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>

#include "jobrelay/limit/client_identity.hpp"
#include "jobrelay/listen_address.hpp"
#include "jobrelay/redis/url.hpp"
#include "jobrelay/text.hpp"
#include "jobrelay/url_authority.hpp"

namespace jobrelay::config_detail {
namespace {

bool is_tchar(char c) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return std::isalnum(static_cast<unsigned char>(c)) || extra.find(c) != std::string_view::npos;
}

bool has_control_or_space(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

// The parts every absolute URL in the configuration must have. `schemes`
// lists the accepted ones.
std::string check_absolute_url(const std::string& value,
                               std::initializer_list<std::string_view> schemes,
                               const char* expectation) {
  auto parsed = boost::urls::parse_absolute_uri(value);
  if (!parsed) return std::string("expected ") + expectation;
  const boost::urls::url_view u = *parsed;
  const std::string scheme = to_lower_ascii(std::string(u.scheme()));
  if (std::find(schemes.begin(), schemes.end(), scheme) == schemes.end())
    return std::string("expected ") + expectation;
  if (!u.has_authority() || u.encoded_host().empty())
    return std::string("expected ") + expectation + " (the host is missing)";
  if (!authority_read_whole(u))
    return std::string("expected ") + expectation + " (the host or port is malformed)";
  if (u.has_userinfo()) return "credentials in the URL are not supported";
  if (u.has_query() || u.has_fragment()) return "expected no query or fragment";
  if (u.has_port()) {
    const std::string_view port = u.port();
    const bool digits =
        !port.empty() && port.size() <= 5 &&
        std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
    const unsigned long number = digits ? std::stoul(std::string(port)) : 0;
    if (number == 0 || number > 65535) return "the port must be a number 1..65535";
  }
  return {};
}

}  // namespace

std::string check_listen(std::string& value) {
  std::string why;
  if (!parse_listen_address(value, &why)) return "expected host:port or [ipv6]:port: " + why;
  return {};
}

std::string check_http_base_url(std::string& value) {
  if (auto e = check_absolute_url(value, {"http", "https"}, "an http:// or https:// URL");
      !e.empty())
    return e;
  while (!value.empty() && value.back() == '/') value.pop_back();
  return {};
}

std::string check_public_url(std::string& value) {
  if (value.empty()) return {};
  return check_http_base_url(value);
}

std::string check_origin(std::string& value) {
  if (value == "*") return {};
  constexpr const char* expectation = "\"*\" or an origin such as https://app.example.com";
  auto parsed = boost::urls::parse_absolute_uri(value);
  if (!parsed || !parsed->has_authority() || parsed->encoded_host().empty() ||
      !authority_read_whole(*parsed) || parsed->has_userinfo() || parsed->has_query() ||
      parsed->has_fragment())
    return std::string("expected ") + expectation;
  // Browsers send Origin without a path; one here would never match.
  if (!parsed->encoded_path().empty())
    return std::string("expected ") + expectation + " (no path or trailing slash)";
  // Scheme and host are case-insensitive and browsers send them lower-case.
  value = to_lower_ascii(value);
  return {};
}

// The client's own parser: a URL the configuration accepts is one the client
// can use, user and password included (they are not shown back: the key is
// a secret, and the parser's reasons never quote the password).
std::string check_redis_url(std::string& value) {
  std::string why;
  if (!redis::parse_url(value, &why)) return why;
  return {};
}

std::string check_submit_path(std::string& value) {
  if (value.empty() || value.front() != '/' || has_control_or_space(value))
    return "expected a path starting with \"/\" without spaces";
  return {};
}

std::string check_trusted_proxy(std::string& value) {
  std::string why;
  if (!limit::cidr::parse(value, &why)) return "expected a CIDR or IP address: " + why;
  return {};
}

std::string check_api_key(std::string& value) {
  // Bearer tokens are visible ASCII; a key with a space could never be sent.
  if (value.empty() || has_control_or_space(value) ||
      std::any_of(value.begin(), value.end(),
                  [](char c) { return static_cast<unsigned char>(c) > 0x7E; }))
    return "expected non-empty keys of visible ASCII characters";
  return {};
}

std::string check_header_name(const std::string& name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar))
    return "\"" + name + "\" is not a valid header name";
  // Framing is the HTTP client's job; overriding it would corrupt requests.
  const std::string l = to_lower_ascii(name);
  if (l == "content-length" || l == "transfer-encoding" || l == "connection")
    return "\"" + name + "\" is set by jobrelay and cannot be configured";
  return {};
}

std::string check_header_value(const std::string& value) {
  // CR/LF here would let a value smuggle extra headers into upstream calls.
  if (std::any_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && u != '\t') || u == 0x7F;
      }))
    return "contains control characters";
  return {};
}

std::string expand_env_refs(std::string& value, const env_lookup& env) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  while (i < value.size()) {
    if (value.compare(i, 2, "${") != 0) {
      out += value[i++];
      continue;
    }
    const auto close = value.find('}', i + 2);
    if (close == std::string::npos) return "unterminated ${ in \"" + value + "\"";
    const std::string name = value.substr(i + 2, close - i - 2);
    const bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                            std::all_of(name.begin(), name.end(), [](char c) {
                              return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                            });
    if (!valid_name) return "\"${" + name + "}\" is not a valid variable reference";
    auto found = env ? env(name) : std::nullopt;
    if (!found) return "environment variable " + name + " is not set";
    out += *found;
    i = close + 1;
  }
  value = std::move(out);
  return {};
}

}  // namespace jobrelay::config_detail
