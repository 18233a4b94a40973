#include <gtest/gtest.h>

#include "jobrelay/limit/client_identity.hpp"

using namespace jobrelay::limit;
namespace ip = boost::asio::ip;

namespace {
ip::address addr(const char* s) { return ip::make_address(s); }
}  // namespace

TEST(Cidr, ParsesAndMatchesV4V6AndMapped) {
  auto net = cidr::parse("10.0.0.0/8");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(addr("10.1.2.3")));
  EXPECT_FALSE(net->contains(addr("11.0.0.1")));
  EXPECT_TRUE(net->contains(addr("::ffff:10.9.9.9")));
  auto v6 = cidr::parse("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(addr("fd12::1")));
  EXPECT_FALSE(v6->contains(addr("10.0.0.1")));
  EXPECT_TRUE(cidr::parse("127.0.0.1")->contains(addr("127.0.0.1")));
  EXPECT_FALSE(cidr::parse("127.0.0.1")->contains(addr("127.0.0.2")));
  for (auto bad : {"", "10.0.0.0/33", "10.0.0.0/", "x/8", "::1/129", "10.0.0.0/8x"})
    EXPECT_FALSE(cidr::parse(bad)) << bad;
  EXPECT_THROW(trusted_proxies({"nope"}), std::invalid_argument);
}

TEST(ClientIdentity, ForwardedForFromAnUntrustedPeerIsIgnored) {
  trusted_proxies trusted({"10.0.0.0/8"});
  EXPECT_EQ(resolve_client(addr("203.0.113.7"), {"1.2.3.4"}, trusted), "203.0.113.7");
  trusted_proxies none;
  EXPECT_EQ(resolve_client(addr("203.0.113.7"), {"1.2.3.4"}, none), "203.0.113.7");
}

TEST(ClientIdentity, RightMostUntrustedEntryBehindTrustedProxies) {
  trusted_proxies trusted({"10.0.0.0/8"});
  // The client claims 6.6.6.6; the real client 198.51.100.1 went through 10.0.0.2.
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"6.6.6.6, 198.51.100.1, 10.0.0.2"}, trusted),
            "198.51.100.1");
  // Several header lines are one list, in order.
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"6.6.6.6", "198.51.100.1"}, trusted), "198.51.100.1");
  // All trusted: the left-most.
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"10.0.0.5, 10.0.0.6"}, trusted), "10.0.0.5");
  // No header: the proxy itself.
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {}, trusted), "10.0.0.1");
}

TEST(ClientIdentity, JunkAndOddFormsInForwardedFor) {
  trusted_proxies trusted({"10.0.0.0/8", "::1/128"});
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"1.1.1.1, <script>"}, trusted), "10.0.0.1");
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"1.1.1.1, ,"}, trusted), "10.0.0.1");
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"198.51.100.1:4711"}, trusted), "198.51.100.1");
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {"[2001:db8::1]:443"}, trusted), "2001:db8::1");
  EXPECT_EQ(resolve_client(addr("::1"), {"2001:db8::2"}, trusted), "2001:db8::2");
  EXPECT_EQ(resolve_client(addr("::ffff:10.0.0.1"), {"::ffff:198.51.100.9"}, trusted), "198.51.100.9");
  EXPECT_EQ(resolve_client(addr("10.0.0.1"), {std::string(10000, '1')}, trusted), "10.0.0.1");
}
