// The hand-written URL fast paths (parse_target, resolve_operation_url) against
// the Boost.URL code they stand in for: each rule by hand, then a generated
// corpus of edge cases on which both must give the same answer byte for byte.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "jobrelay/upstream/http_analyzer.hpp"
#include "jobrelay/upstream/simple_url.hpp"
#include "jobrelay/upstream/target.hpp"

using namespace jobrelay;
using namespace jobrelay::upstream;
using detail::parse_target;
using detail::parse_target_generic;
using detail::split_simple_url;
using detail::target;

namespace {

bool takes_fast_path(std::string_view url) {
  return split_simple_url(url).has_value();
}

target parsed(std::string_view url) {
  auto t = parse_target(url);
  EXPECT_TRUE(t.has_value()) << url;
  return t.has_value() ? *t : target{};
}

void expect_target(std::string_view url, bool tls, std::string_view host, std::uint16_t port,
                   std::string_view host_header, std::string_view path) {
  SCOPED_TRACE(std::string(url));
  const target t = parsed(url);
  EXPECT_EQ(t.where.tls, tls);
  EXPECT_EQ(t.where.host, host);
  EXPECT_EQ(t.where.port, port);
  EXPECT_EQ(t.host_header, host_header);
  EXPECT_EQ(t.path, path);
}

void expect_bad_url(std::string_view url) {
  auto t = parse_target(url);
  ASSERT_FALSE(t.has_value()) << url;
  EXPECT_EQ(t.error(), errc::upstream_bad_url) << url;
}

// Non-printable bytes as \xNN, so a failing input can be pasted back.
std::string printable(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// URLs rich in the bytes and shapes where a hand-written parser could part
// from Boost.URL. Half are built from pieces the fast path accepts (edge cases
// within its shape: dot segments, %2F, port 0 or 65536, address-like hosts),
// the other half take each piece from the wider edge lists half the time and
// may get a fragment or one stray byte. std::mt19937 is specified by the
// standard, and `% n` keeps the picks the same everywhere.
class url_corpus {
 public:
  explicit url_corpus(std::uint32_t seed) : rng_(seed) {}

  std::string url() {
    edgy_ = chance(2);
    std::string out = pick(schemes_, edge_schemes_);
    if (edgy_ && chance(8)) out += pick(userinfos_);
    out += host();
    if (chance(3)) out += pick(ports_, edge_ports_);
    out += path_and_query();
    return spoiled(std::move(out));
  }

  std::string reference() {
    switch (rng_() % 8) {
      case 0:
      case 1:
      case 2:
        return url();
      case 3:
      case 4:
      case 5:
        edgy_ = chance(2);
        return spoiled("/" + path_and_query());
      default:
        return pick(relative_references_);
    }
  }

 private:
  bool chance(unsigned one_in) { return rng_() % one_in == 0; }

  template <std::size_t N>
  std::string pick(const std::string_view (&from)[N]) {
    return std::string(from[rng_() % N]);
  }

  template <std::size_t N, std::size_t M>
  std::string pick(const std::string_view (&simple)[N], const std::string_view (&edge)[M]) {
    return edgy_ && chance(2) ? pick(edge) : pick(simple);
  }

  std::string host() {
    if (chance(2)) return pick(hosts_, edge_hosts_);
    std::string out;
    for (unsigned n = 1 + rng_() % 6; n > 0; --n) out += pick(host_pieces_, edge_host_pieces_);
    return out;
  }

  std::string path_and_query() {
    std::string out;
    for (unsigned n = rng_() % 5; n > 0; --n) {
      if (!edgy_ || !chance(12)) out += '/';
      out += pick(segments_, edge_segments_);
    }
    if (chance(3)) out += pick(queries_, edge_queries_);
    return out;
  }

  std::string spoiled(std::string s) {
    if (!edgy_) return s;
    if (chance(6)) s += pick(fragments_);
    if (chance(5)) mutate(s);
    return s;
  }

  // One byte replaced or inserted, from those a URL must not hold as they are.
  void mutate(std::string& s) {
    static constexpr char edge[] = " \t\r\n\0\x01\x7f\x80\xc3\xff#%[]\\\"<>^`{|}?/:@.-_~0aZ";
    static constexpr std::string_view edge_bytes(edge, sizeof edge - 1);
    const char byte = edge_bytes[rng_() % edge_bytes.size()];
    const std::size_t at = rng_() % (s.size() + 1);
    if (at < s.size() && chance(2)) {
      s[at] = byte;
    } else {
      s.insert(at, 1, byte);
    }
  }

  std::mt19937 rng_;
  bool edgy_ = false;

  static constexpr std::string_view schemes_[] = {"http://", "https://"};
  static constexpr std::string_view edge_schemes_[] = {
      "HTTP://", "Https://", "ftp://", "", "http:", "http:/", "//", "http:///", "https:"};
  static constexpr std::string_view userinfos_[] = {"u@", "u:p@", "@", "%41@"};
  static constexpr std::string_view hosts_[] = {
      "127.0.0.1", "h.example.com", "X.COM",     "1.2.3",
      "256.1.1.1", "a..b",          "-x",        ".",
      "0.0.0.0",   "01.2.3.4",      "1.2.3.4.5", "0.0.0.0a.",
      "1.2.3.256", "1.2.3.4a",      "localhost", "xn--bcher-kva.example",
      "3com.com"};
  static constexpr std::string_view edge_hosts_[] = {"[::1]", "[v1.x]", "h_x", "h%41", "h~", ""};
  static constexpr std::string_view host_pieces_[] = {"a", "Z", "0",       "9",   "1",   ".",
                                                      "-", "h", "example", "COM", "255", "256"};
  static constexpr std::string_view edge_host_pieces_[] = {"%", "%2e", "_", "@", "~", "!"};
  static constexpr std::string_view ports_[] = {
      ":",      ":0",     ":80",  ":443",   ":8080",  ":65535",
      ":65536", ":99999", ":080", ":00080", ":19501", ":123456789012345678901"};
  static constexpr std::string_view edge_ports_[] = {":abc", ":1a", ":-1", "::", ": 80", ":+80"};
  static constexpr std::string_view segments_[] = {"",       ".",
                                                   "..",     "operations",
                                                   "abc123", "0123456789abcdef",
                                                   "%2F",    "%2f",
                                                   "%2e",    "%2E%2e",
                                                   "%7e",    "%aa",
                                                   "%41",    "x:y",
                                                   "@",      "!$&'()*+,;=",
                                                   "~_-.",   "...",
                                                   ".a",     "a.",
                                                   "A%3a",   "%25",
                                                   "%3F",    "x",
                                                   "jobs",   "v1",
                                                   "a-b",    "Z"};
  static constexpr std::string_view edge_segments_[] = {"%zz", "%4",   "b c", "\xc3\xa9",
                                                        "[x]", "a\\b", "{}",  "%"};
  static constexpr std::string_view queries_[] = {"?",          "?a=b", "?api-version=2024-01-01",
                                                  "?x?y/z",     "?%41", "?/../.",
                                                  "?a=b&c=%2F", "??",   "?%7e%aa"};
  static constexpr std::string_view edge_queries_[] = {"?%zz", "?%4", "?a b", "?\x80", "?[]"};
  static constexpr std::string_view fragments_[] = {"#", "#f", "#a b", "#%zz", "#/../x"};
  static constexpr std::string_view relative_references_[] = {"",
                                                              "x",
                                                              "../x",
                                                              "./x",
                                                              "?q",
                                                              "//other/x",
                                                              "#f",
                                                              "x/../y",
                                                              "/x",
                                                              "/operations/abc",
                                                              "//other",
                                                              "///x",
                                                              ".",
                                                              "..",
                                                              "?",
                                                              "http:x",
                                                              "x:y",
                                                              "/%2e%2e/x",
                                                              "/a/b/../c",
                                                              "/a?b#c",
                                                              "//u@other:8080/p?q#f"};
};

testing::AssertionResult same_target(std::string_view url) {
  const auto fast = parse_target(url);
  const auto generic = parse_target_generic(url);
  if (fast.has_value() != generic.has_value())
    return testing::AssertionFailure() << "success differs for \"" << printable(url) << '"';
  if (!fast.has_value()) {
    if (fast.error() == generic.error()) return testing::AssertionSuccess();
    return testing::AssertionFailure() << "error differs for \"" << printable(url) << '"';
  }
  if (*fast == *generic) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "\"" << printable(url) << "\": fast {" << fast->where.tls << ' ' << fast->where.host
         << ' ' << fast->where.port << ' ' << fast->host_header << ' ' << fast->path
         << "} generic {" << generic->where.tls << ' ' << generic->where.host << ' '
         << generic->where.port << ' ' << generic->host_header << ' ' << generic->path << '}';
}

testing::AssertionResult same_resolution(std::string_view base, std::string_view reference) {
  const auto fast = resolve_operation_url(base, reference);
  const auto generic = resolve_operation_url_generic(base, reference);
  const bool same = fast.has_value() == generic.has_value() &&
                    (fast.has_value() ? *fast == *generic : fast.error() == generic.error());
  if (same) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "\"" << printable(reference) << "\" against \"" << printable(base) << "\": fast "
         << (fast.has_value() ? printable(*fast) : fast.error().message()) << ", generic "
         << (generic.has_value() ? printable(*generic) : generic.error().message());
}

constexpr std::uint32_t corpus_seed = 20240101;
constexpr int corpus_size = 100000;

}  // namespace

// Boost.URL 1.81 ends a host that starts as an IPv4 address early and takes
// the rest for the path: "http://127.0.0.1.evil.example/op" went to
// 127.0.0.1:80 as "GET .evil.example/op" (with the configured headers). A
// path after an authority must start with '/', so these are refused.
TEST(UpstreamTarget, AHostBoostUrlReadsOnlyPartOfIsRefused) {
  for (const char* url :
       {"http://127.0.0.1.evil.example/op/31", "http://127.0.0.1a:20202/x",
        "http://127.0.0.1:20202:80/op", "http://1.2.3.4.5/", "https://10.0.0.1.example.com"}) {
    expect_bad_url(url);
    const auto resolved = resolve_operation_url("http://up.example/analyze", url);
    ASSERT_FALSE(resolved.has_value()) << url;
    EXPECT_EQ(resolved.error(), errc::upstream_protocol) << url;
  }
  expect_target("http://127.0.0.1/op", false, "127.0.0.1", 80, "127.0.0.1", "/op");
}

TEST(UpstreamTarget, UsualShapesAreSplitByHand) {
  EXPECT_TRUE(takes_fast_path("http://127.0.0.1:8080/operations/abc123"));
  expect_target("http://127.0.0.1:8080/operations/abc123", false, "127.0.0.1", 8080,
                "127.0.0.1:8080", "/operations/abc123");
  EXPECT_TRUE(takes_fast_path("https://host.example.com/jobs/x?api-version=2024-01-01"));
  expect_target("https://host.example.com/jobs/x?api-version=2024-01-01", true, "host.example.com",
                443, "host.example.com", "/jobs/x?api-version=2024-01-01");
}

TEST(UpstreamTarget, HostsAreKeptAsWritten) {
  // Boost.URL neither lower-cases nor checks a reg-name that merely looks like an address.
  for (std::string_view host : {"X.COM", "1.2.3", "256.1.1.1", "a..b", "-x", "."}) {
    const std::string url = "http://" + std::string(host) + "/p";
    EXPECT_TRUE(takes_fast_path(url)) << url;
    expect_target(url, false, host, 80, host, "/p");
  }
}

TEST(UpstreamTarget, PortRules) {
  expect_target("http://h:/p", false, "h", 80, "h", "/p");  // empty: the default
  expect_target("http://h:080/p", false, "h", 80, "h", "/p");
  expect_target("https://h:80/", true, "h", 80, "h:80", "/");
  expect_target("http://h:443/", false, "h", 443, "h:443", "/");
  expect_target("http://h:65535", false, "h", 65535, "h:65535", "/");
  for (std::string_view url :
       {"http://h:0/", "http://h:65536/", "http://h:99999/", "http://h:123456789012345678901/"}) {
    EXPECT_TRUE(takes_fast_path(url)) << url;
    expect_bad_url(url);
  }
}

TEST(UpstreamTarget, PathAndQueryAreCopiedAsWritten) {
  expect_target("http://h", false, "h", 80, "h", "/");
  expect_target("http://h?q", false, "h", 80, "h", "/?q");
  expect_target("http://h?", false, "h", 80, "h", "/?");
  expect_target("http://h//x", false, "h", 80, "h", "//x");
  expect_target("http://h/a%2Fb/%7e/./../?c=%41&d=/?:@!$'()*+,;", false, "h", 80, "h",
                "/a%2Fb/%7e/./../?c=%41&d=/?:@!$'()*+,;");
  EXPECT_TRUE(takes_fast_path("http://h/a%2Fb/%7e/./../?c=%41&d=/?:@!$'()*+,;"));
}

TEST(UpstreamTarget, AnythingElseIsLeftToBoostUrl) {
  // Boost.URL still decides these, as before the fast path.
  expect_target("HTTP://h/x", false, "h", 80, "h", "/x");
  expect_target("http://u@h/x", false, "h", 80, "h", "/x");
  expect_target("http://[::1]:8080/x", false, "::1", 8080, "[::1]:8080", "/x");
  expect_target("http://h%41/x", false, "hA", 80, "h%41", "/x");
  expect_target("http://h_x/", false, "h_x", 80, "h_x", "/");
  expect_target("http://h/a#frag", false, "h", 80, "h", "/a");
  for (std::string_view url :
       {"ftp://h/", "http:///x", "http://h/%zz", "http://h/a b", "h/x", "https://h/\xc3\xa9"})
    expect_bad_url(url);
  for (std::string_view url :
       {"HTTP://h/x", "http://u@h/x", "http://[::1]:8080/x", "http://h%41/x", "http://h_x/",
        "http://h/a#frag", "http://h:abc/", "http://h/a b", "http://h/%zz", "http://h/%4",
        "http://h/a\\b", "http://h/\x80", "http://h/[x]", "http://h/a?b^c"}) {
    EXPECT_FALSE(takes_fast_path(url)) << url;
    EXPECT_TRUE(same_target(url));
  }
}

TEST(UpstreamTarget, AgreesWithBoostUrlOnAGeneratedCorpus) {
  url_corpus corpus(corpus_seed);
  int simple = 0;
  int mismatches = 0;
  for (int i = 0; i < corpus_size && mismatches < 5; ++i) {
    const std::string url = corpus.url();
    simple += takes_fast_path(url);
    const auto verdict = same_target(url);
    EXPECT_TRUE(verdict);
    mismatches += !verdict;
  }
  // A corpus the fast path never takes would prove nothing, nor one it always takes.
  EXPECT_GT(simple, corpus_size / 5);
  EXPECT_LT(simple, corpus_size * 4 / 5);
}

TEST(UpstreamResolve, UsualShapesAreResolvedByHand) {
  const std::string_view base = "http://127.0.0.1:8080/analyze";
  EXPECT_EQ(resolve_simple_operation_url(base, "/operations/abc"),
            "http://127.0.0.1:8080/operations/abc");
  EXPECT_EQ(resolve_simple_operation_url("http://b:/a?x", "/x?y=%41&z=/../."),
            "http://b:/x?y=%41&z=/../.");
  EXPECT_EQ(resolve_simple_operation_url(base, "https://h.example.com/jobs/x?api-version=1"),
            "https://h.example.com/jobs/x?api-version=1");
  EXPECT_EQ(resolve_simple_operation_url(base, "http://h"), "http://h");  // no "/" added
  EXPECT_EQ(resolve_simple_operation_url(base, "http://H/.a/a./..."), "http://H/.a/a./...");
  EXPECT_EQ(resolve_operation_url(base, "/operations/abc").value(),
            "http://127.0.0.1:8080/operations/abc");
}

TEST(UpstreamResolve, WhatBoostUrlRewritesIsLeftToIt) {
  const std::string_view base = "http://b/a/c";
  struct expectation {
    std::string_view base, reference, resolved;
  };
  const expectation cases[] = {
      {base, "/a/./x", "http://b/a/x"},            // dot segments removed
      {base, "/../x", "http://b/../x"},            // ... but a leading ".." kept
      {base, "/a/%2F/x", "http://b/a///x"},        // %2F decoded in a path
      {base, "http://h/%7e%aa", "http://h/~%AA"},  // unreserved decoded, hex upper-cased
      {base, "x", "http://b/a/x"},                 // merged with the base's path
      {base, "?q", "http://b/a/c?q"},              // the base's path kept
      {"http://b/a#f", "?q", "http://b/a?q"},      // the base's fragment dropped
      {base, "//other/x", "http://other/x"},       // another authority
      {base, "http://h/x#frag", "http://h/x"},     // fragment removed
      {"HTTP://B/a", "/x", "HTTP://B/x"},          // scheme case kept
      {"http://u@b/a", "/x", "http://u@b/x"},      // userinfo kept
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.reference) + " against " + std::string(c.base));
    EXPECT_EQ(resolve_simple_operation_url(c.base, c.reference), std::nullopt);
    auto resolved = resolve_operation_url(c.base, c.reference);
    ASSERT_TRUE(resolved.has_value());
    EXPECT_EQ(*resolved, c.resolved);
  }
  for (std::string_view reference : {"", "ftp://h/x", "mailto:x@y", "http:x", "http://h/a b"}) {
    auto resolved = resolve_operation_url(base, reference);
    ASSERT_FALSE(resolved.has_value()) << reference;
    EXPECT_EQ(resolved.error(), errc::upstream_protocol) << reference;
  }
}

TEST(UpstreamResolve, AgreesWithBoostUrlOnAGeneratedCorpus) {
  // Every other base is one the fast path can take.
  const std::string_view bases[] = {"http://127.0.0.1:8080/analyze",
                                    "ftp://h/x",
                                    "https://h.example/a/b/c?x=1",
                                    "HTTP://H/a/b",
                                    "http://h",
                                    "http://u@h/x/y",
                                    "http://h:/a",
                                    "http://[::1]:8080/a",
                                    "https://h:443/a/b/",
                                    "http://h/a/%2e%2e/b",
                                    "http://1.2.3.4:0/a/./b?%41",
                                    "http://h/a#f",
                                    "http://h.example/x/y",
                                    "not a url"};
  url_corpus corpus(corpus_seed + 1);
  int simple_from_root = 0;
  int simple_absolute = 0;
  int mismatches = 0;
  for (int i = 0; i < corpus_size && mismatches < 5; ++i) {
    const std::string_view base = bases[i % std::size(bases)];
    const std::string reference = corpus.reference();
    if (resolve_simple_operation_url(base, reference))
      ++(reference.starts_with('/') ? simple_from_root : simple_absolute);
    const auto verdict = same_resolution(base, reference);
    EXPECT_TRUE(verdict);
    mismatches += !verdict;
  }
  EXPECT_GT(simple_from_root, corpus_size / 50);
  EXPECT_GT(simple_absolute, corpus_size / 50);
  EXPECT_LT(simple_from_root + simple_absolute, corpus_size * 4 / 5);
}
