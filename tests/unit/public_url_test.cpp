#include <gtest/gtest.h>

#include "jobrelay/api/public_url.hpp"

using namespace jobrelay;
using namespace jobrelay::api;

namespace {
http::request with_headers(std::initializer_list<std::pair<const char*, const char*>> headers) {
  http::request req{http::verb::post, "/analyze", 11};
  for (auto& [k, v] : headers) req.set(k, v);
  return req;
}
}  // namespace

TEST(PublicUrl, ConfiguredPublicUrlWins) {
  auto req = with_headers({{"Host", "evil.example"}});
  EXPECT_EQ(public_base_url(req, false, "https://api.example.com"), "https://api.example.com");
}

TEST(PublicUrl, FromHostAndForwardedHeadersOnlyFromTrustedProxies) {
  auto req = with_headers({{"Host", "internal:8080"},
                           {"X-Forwarded-Proto", "https"},
                           {"X-Forwarded-Host", "api.example.com"}});
  EXPECT_EQ(public_base_url(req, false, ""), "http://internal:8080");
  EXPECT_EQ(public_base_url(req, true, ""), "https://api.example.com");
}

TEST(PublicUrl, ForwardedProtoIsCaseInsensitiveAndHandedOutInLowerCase) {
  auto req = with_headers({{"Host", "internal:8080"}, {"X-Forwarded-Proto", "HTTPS"}});
  EXPECT_EQ(public_base_url(req, true, ""), "https://internal:8080");
}

// A proxy that appends to a client's X-Forwarded-* leaves the client's value
// first: the right-most value, over every line of the header, is the proxy's.
TEST(PublicUrl, ForwardedHeadersTakeTheRightMostValue) {
  auto req = with_headers({{"Host", "internal:8080"},
                           {"X-Forwarded-Proto", "http, https"},
                           {"X-Forwarded-Host", "evil.example, api.example.com"}});
  EXPECT_EQ(public_base_url(req, true, ""), "https://api.example.com");
  http::request lines{http::verb::post, "/analyze", 11};
  lines.set("Host", "internal:8080");
  lines.insert("X-Forwarded-Host", "evil.example");
  lines.insert("X-Forwarded-Host", "api.example.com");
  EXPECT_EQ(public_base_url(lines, true, ""), "http://api.example.com");
}

TEST(PublicUrl, HostNamesAreDnsNamesOrAddresses) {
  for (const char* good : {"a", "api.example.com", "x-y.example:8080", "127.0.0.1", "10.0.0.1:1",
                           "[::1]", "host_1.internal"})
    EXPECT_TRUE(is_valid_host(good)) << good;
  for (const char* bad : {"..", "-", "a..b", ".a", "a.", "-a.example", "a-.example", "1.2.3.4.5",
                          "1.2.3", "256.1.1.1", "evil.com:0", "a:", "[]"})
    EXPECT_FALSE(is_valid_host(bad)) << bad;
}

TEST(PublicUrl, LinkPrefixIsThePathOfThePublicUrl) {
  EXPECT_EQ(link_prefix(""), "");
  EXPECT_EQ(link_prefix("https://api.example.com"), "");
  EXPECT_EQ(link_prefix("https://api.example.com:8443/jobrelay"), "/jobrelay");
  EXPECT_EQ(link_prefix("http://[::1]:8080/a/b"), "/a/b");
}

TEST(PublicUrl, JunkInHostOrForwardedHeadersNeverReachesTheUrl) {
  EXPECT_EQ(public_base_url(with_headers({}), false, ""), std::nullopt);
  EXPECT_EQ(public_base_url(with_headers({{"Host", "a b"}}), false, ""), std::nullopt);
  EXPECT_EQ(public_base_url(with_headers({{"Host", "x/y"}}), false, ""), std::nullopt);
  EXPECT_EQ(public_base_url(with_headers({{"Host", "user@x"}}), false, ""), std::nullopt);
  EXPECT_EQ(public_base_url(with_headers({{"Host", "x:99999"}}), false, ""), std::nullopt);
  auto req = with_headers({{"Host", "good:1"},
                           {"X-Forwarded-Proto", "javascript"},
                           {"X-Forwarded-Host", "evil\r\nSet-Cookie: x"}});
  EXPECT_EQ(public_base_url(req, true, ""), "http://good:1");
  EXPECT_EQ(public_base_url(with_headers({{"Host", "[::1]:8080"}}), false, ""), "http://[::1]:8080");
}
