// parse_url: which Redis URLs are taken, what they mean, and the reason given
// for those that are not.
#include <gtest/gtest.h>

#include "jobrelay/redis/client.hpp"

namespace {

using jobrelay::errc;
using jobrelay::redis::endpoint;
using jobrelay::redis::parse_url;

endpoint parsed(std::string_view url) {
  std::string why;
  auto result = parse_url(url, &why);
  EXPECT_TRUE(result) << url << ": " << why;
  return result ? *result : endpoint{};
}

// The reason given for refusing `url` (fails the test when it is accepted).
std::string refusal(std::string_view url) {
  std::string why;
  auto result = parse_url(url, &why);
  EXPECT_FALSE(result) << url << " was accepted";
  if (!result) EXPECT_EQ(result.error(), make_error_code(errc::store_unavailable));
  EXPECT_FALSE(why.empty()) << url;
  return why;
}

TEST(RedisUrl, HostPortAndDatabase) {
  const endpoint e = parsed("redis://cache.internal:6380/3");
  EXPECT_EQ(e.host, "cache.internal");
  EXPECT_EQ(e.port, "6380");
  EXPECT_EQ(e.db, 3u);
  EXPECT_FALSE(e.tls);
  EXPECT_TRUE(e.user.empty());
  EXPECT_TRUE(e.password.empty());
}

TEST(RedisUrl, DefaultsArePort6379AndDatabase0) {
  for (const char* url : {"redis://localhost", "redis://localhost/", "redis://localhost:"}) {
    const endpoint e = parsed(url);
    EXPECT_EQ(e.host, "localhost") << url;
    EXPECT_EQ(e.port, "6379") << url;
    EXPECT_EQ(e.db, 0u) << url;
  }
}

TEST(RedisUrl, RedissMeansTls) {
  const endpoint e = parsed("rediss://redis.example.com:6390/1");
  EXPECT_TRUE(e.tls);
  EXPECT_EQ(e.port, "6390");
  EXPECT_TRUE(parsed("REDISS://h").tls);
}

TEST(RedisUrl, UserAndPasswordArePercentDecoded) {
  const endpoint e = parsed("redis://app%40team:p%3Ass%2Fw%40rd@h:1/0");
  EXPECT_EQ(e.user, "app@team");
  EXPECT_EQ(e.password, "p:ss/w@rd");
}

TEST(RedisUrl, PasswordAloneHasAnEmptyUser) {
  const endpoint e = parsed("redis://:secret@127.0.0.1:6379");
  EXPECT_TRUE(e.user.empty());
  EXPECT_EQ(e.password, "secret");
  EXPECT_EQ(e.host, "127.0.0.1");
}

TEST(RedisUrl, Ipv6LiteralLosesItsBrackets) {
  const endpoint e = parsed("redis://[::1]:7000");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, "7000");
}

TEST(RedisUrl, UnknownSchemeIsNamed) {
  EXPECT_NE(refusal("http://localhost:6379").find("unknown scheme 'http'"), std::string::npos);
  EXPECT_NE(refusal("redis-sentinel://h").find("unknown scheme"), std::string::npos);
}

TEST(RedisUrl, BadPortsAreRefused) {
  EXPECT_NE(refusal("redis://h:0").find("bad port '0'"), std::string::npos);
  EXPECT_NE(refusal("redis://h:65536").find("bad port"), std::string::npos);
  EXPECT_NE(refusal("redis://h:99999999999999999999").find("bad port"), std::string::npos);
}

TEST(RedisUrl, DatabaseMustBeANumber) {
  EXPECT_NE(refusal("redis://h/cache").find("database 'cache' is not a number"), std::string::npos);
  EXPECT_NE(refusal("redis://h/1/2").find("not a number"), std::string::npos);
  EXPECT_NE(refusal("redis://h/-1").find("not a number"), std::string::npos);
  EXPECT_NE(refusal("redis://h/99999999999").find("not a number"), std::string::npos);
}

TEST(RedisUrl, NoHostOrNotAUrl) {
  EXPECT_NE(refusal("redis:///0").find("no host"), std::string::npos);
  EXPECT_NE(refusal("redis:localhost").find("no host"), std::string::npos);
  EXPECT_NE(refusal("").find("not a URL"), std::string::npos);
  EXPECT_NE(refusal("localhost:6379").find("scheme"), std::string::npos);
  EXPECT_NE(refusal("redis://h:6379 /0").find("not a URL"), std::string::npos);
}

TEST(RedisUrl, UserWithoutPasswordAndOptionsAreRefusedNotIgnored) {
  EXPECT_NE(refusal("redis://alice@h").find("without a password"), std::string::npos);
  EXPECT_NE(refusal("redis://h/0?timeout=5").find("query"), std::string::npos);
  EXPECT_NE(refusal("redis://h/0#x").find("fragment"), std::string::npos);
}

TEST(RedisUrl, WhyIsOptional) {
  EXPECT_FALSE(parse_url("ftp://h"));
  EXPECT_TRUE(parse_url("redis://h"));
}

}  // namespace
