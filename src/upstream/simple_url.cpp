#include "jobrelay/upstream/simple_url.hpp"

#include <array>

namespace jobrelay::upstream::detail {
namespace {

enum char_class : unsigned char {
  host_char = 1,   // [A-Za-z0-9.-]: a reg-name Boost.URL leaves as written
  path_char = 2,   // pchar and '/', except '%' (checked as a triplet)
  query_char = 4,  // path_char and '?'
  hex_digit = 8,
  decimal_digit = 16,
};

constexpr std::array<unsigned char, 256> make_char_classes() {
  std::array<unsigned char, 256> classes{};
  auto mark = [&](std::string_view chars, unsigned char bits) {
    for (char c : chars) classes[static_cast<unsigned char>(c)] |= bits;
  };
  constexpr std::string_view alnum =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  mark(alnum, host_char | path_char | query_char);
  mark(".-", host_char | path_char | query_char);
  mark("_~!$&'()*+,;=:@/", path_char | query_char);
  mark("?", query_char);
  mark("0123456789ABCDEFabcdef", hex_digit);
  mark("0123456789", decimal_digit);
  return classes;
}

constexpr std::array<unsigned char, 256> char_classes = make_char_classes();

bool is(char c, unsigned char bits) {
  return char_classes[static_cast<unsigned char>(c)] & bits;
}

// How many leading bytes of `s` are of class `bits`.
std::size_t span_of(std::string_view s, unsigned char bits) {
  std::size_t i = 0;
  while (i < s.size() && is(s[i], bits)) ++i;
  return i;
}

// The same, where a well-formed %XX counts too (anything else after '%'
// makes Boost.URL reject the URL, so that is left to it).
std::size_t encoded_span_of(std::string_view s, unsigned char bits) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (is(s[i], bits)) {
      ++i;
    } else if (s[i] == '%' && i + 2 < s.size() && is(s[i + 1], hex_digit) &&
               is(s[i + 2], hex_digit)) {
      i += 3;
    } else {
      break;
    }
  }
  return i;
}

// Boost.URL 1.81 reads a host that merely starts with an IPv4 address
// ("1.2.3.4.5", "1.2.3.4a") as that address, and the rest as the path. A host
// that starts with a digit is taken here only when it is digits and at most
// three dots: then an address, if Boost.URL sees one, is all of it.
bool boost_url_takes_whole(std::string_view host) {
  if (!is(host.front(), decimal_digit)) return true;
  std::size_t dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!is(c, decimal_digit)) {
      return false;
    }
  }
  return dots <= 3;
}

}  // namespace

std::optional<simple_path_query> split_simple_path_query(std::string_view rest) {
  if (!rest.empty() && rest.front() != '/' && rest.front() != '?') return std::nullopt;
  const std::size_t path_end = encoded_span_of(rest, path_char);
  const std::string_view query = rest.substr(path_end);
  if (!query.empty() &&
      (query.front() != '?' || encoded_span_of(query, query_char) != query.size()))
    return std::nullopt;
  return simple_path_query{rest.substr(0, path_end), query};
}

std::optional<simple_url> split_simple_url(std::string_view url) {
  simple_url out;
  std::size_t at = 0;
  if (url.starts_with("https://")) {
    out.tls = true;
    at = 8;
  } else if (url.starts_with("http://")) {
    at = 7;
  } else {
    return std::nullopt;
  }
  out.host = url.substr(at, span_of(url.substr(at), host_char));
  if (out.host.empty() || !boost_url_takes_whole(out.host)) return std::nullopt;
  at += out.host.size();
  if (at < url.size() && url[at] == ':') {
    out.port = url.substr(at + 1, span_of(url.substr(at + 1), decimal_digit));
    at += 1 + out.port.size();
  }
  out.origin = url.substr(0, at);
  const auto rest = split_simple_path_query(url.substr(at));
  if (!rest) return std::nullopt;
  out.path = rest->path;
  out.query = rest->query;
  return out;
}

}  // namespace jobrelay::upstream::detail
