#include "jobrelay/limit/client_identity.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace {

using boost::asio::ip::make_address;
using jobrelay::limit::cidr;
using jobrelay::limit::client_key;
using jobrelay::limit::resolve_client;
using jobrelay::limit::trusted_proxies;

trusted_proxies trust(const std::vector<std::string>& entries) {
  auto t = trusted_proxies::parse(entries);
  EXPECT_TRUE(t.has_value());
  return t.value_or(trusted_proxies{});
}

std::string resolve(std::string_view peer, std::vector<std::string_view> xff,
                    const trusted_proxies& t) {
  return resolve_client(make_address(std::string(peer)), xff, t);
}

TEST(Cidr, ParsesV4AndV6RangesAndPlainAddresses) {
  EXPECT_TRUE(cidr::parse("10.0.0.0/8"));
  EXPECT_TRUE(cidr::parse("0.0.0.0/0"));
  EXPECT_TRUE(cidr::parse("192.168.1.7"));
  EXPECT_TRUE(cidr::parse("fd00::/8"));
  EXPECT_TRUE(cidr::parse("::1"));
  EXPECT_EQ(cidr::parse("10.0.0.0/8")->to_string(), "10.0.0.0/8");
  EXPECT_EQ(cidr::parse("2001:db8::")->to_string(), "2001:db8::/128");
}

TEST(Cidr, RefusesMalformedRanges) {
  std::string why;
  EXPECT_FALSE(cidr::parse("10.0.0.0/33", &why));
  EXPECT_NE(why.find("0..32"), std::string::npos);
  EXPECT_FALSE(cidr::parse("::/129"));
  EXPECT_FALSE(cidr::parse("10.0.0.0/"));
  EXPECT_FALSE(cidr::parse("10.0.0.0/8x"));
  EXPECT_FALSE(cidr::parse("10.0.0/8"));
  EXPECT_FALSE(cidr::parse("proxy.local"));
  EXPECT_FALSE(cidr::parse(""));
  EXPECT_FALSE(cidr::parse("fe80::1%eth0"));
  EXPECT_FALSE(cidr::parse("10.1.0.0/8", &why));
  EXPECT_EQ(why, "host bits are set past the prefix; did you mean 10.0.0.0/8?");
}

TEST(Cidr, ContainsHonoursThePrefix) {
  const auto net = *cidr::parse("192.168.0.0/23");
  EXPECT_TRUE(net.contains(make_address("192.168.0.1")));
  EXPECT_TRUE(net.contains(make_address("192.168.1.255")));
  EXPECT_FALSE(net.contains(make_address("192.168.2.0")));
  EXPECT_FALSE(net.contains(make_address("::1")));

  const auto v6 = *cidr::parse("2001:db8:abcd::/48");
  EXPECT_TRUE(v6.contains(make_address("2001:db8:abcd:12::1")));
  EXPECT_FALSE(v6.contains(make_address("2001:db8:abce::1")));
  EXPECT_FALSE(v6.contains(make_address("10.0.0.1")));

  EXPECT_TRUE(cidr::parse("0.0.0.0/0")->contains(make_address("8.8.8.8")));
  EXPECT_FALSE(cidr::parse("0.0.0.0/0")->contains(make_address("2001:db8::1")));
}

TEST(Cidr, MappedIpv4PeersMatchIpv4Ranges) {
  const auto net = *cidr::parse("10.0.0.0/8");
  EXPECT_TRUE(net.contains(make_address("::ffff:10.0.0.1")));
  EXPECT_FALSE(net.contains(make_address("::ffff:11.0.0.1")));
}

TEST(TrustedProxies, ParseNamesTheBadEntry) {
  std::string why;
  EXPECT_FALSE(trusted_proxies::parse({"10.0.0.0/8", "nonsense"}, &why));
  EXPECT_NE(why.find("\"nonsense\""), std::string::npos);
  EXPECT_TRUE(trusted_proxies::parse({}).value().empty());
}

TEST(ResolveClient, UntrustedPeerIsTheClientWhateverItForwards) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("203.0.113.9", {}, t), "203.0.113.9");
  // Spoofing: an attacker claiming to be someone else, or a trusted proxy.
  EXPECT_EQ(resolve("203.0.113.9", {"198.51.100.1"}, t), "203.0.113.9");
  EXPECT_EQ(resolve("203.0.113.9", {"10.0.0.1, 1.2.3.4"}, t), "203.0.113.9");
  EXPECT_EQ(resolve("203.0.113.9", {"1.2.3.4"}, trusted_proxies{}), "203.0.113.9");
}

TEST(ResolveClient, TrustedPeerWithoutForwardingIsTheClient) {
  EXPECT_EQ(resolve("10.0.0.1", {}, trust({"10.0.0.0/8"})), "10.0.0.1");
}

TEST(ResolveClient, TrustedChainPicksTheRightMostUntrustedHop) {
  const auto t = trust({"10.0.0.0/8", "192.168.0.0/16"});
  // spoofed, real client, then two proxies of ours
  EXPECT_EQ(resolve("10.0.0.1", {"6.6.6.6, 203.0.113.7, 192.168.1.1, 10.9.9.9"}, t), "203.0.113.7");
  EXPECT_EQ(resolve("10.0.0.1", {"203.0.113.7"}, t), "203.0.113.7");
}

TEST(ResolveClient, AllTrustedYieldsTheLeftMost) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("10.0.0.1", {"10.1.1.1, 10.2.2.2"}, t), "10.1.1.1");
}

TEST(ResolveClient, JunkStopsAtTheLastTrustedHop) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("10.0.0.1", {"1.2.3.4, garbage"}, t), "10.0.0.1");
  EXPECT_EQ(resolve("10.0.0.1", {"1.2.3.4, unknown, 10.5.5.5"}, t), "10.5.5.5");
  EXPECT_EQ(resolve("10.0.0.1", {"_hidden"}, t), "10.0.0.1");
  EXPECT_EQ(resolve("10.0.0.1", {"1.2.3.4, 999.1.1.1"}, t), "10.0.0.1");
  EXPECT_EQ(resolve("10.0.0.1", {"1.2.3.4, 1.2.3.4:99999"}, t), "10.0.0.1");
  EXPECT_EQ(resolve("10.0.0.1", {"1.2.3.4, [::1"}, t), "10.0.0.1");
}

TEST(ResolveClient, EmptyElementsAndSpacesAreTolerated) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("10.0.0.1", {"  1.2.3.4 ,\t, 10.1.1.1  "}, t), "1.2.3.4");
  EXPECT_EQ(resolve("10.0.0.1", {""}, t), "10.0.0.1");
}

TEST(ResolveClient, PortsAndBracketsAreAccepted) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("10.0.0.1", {"1.2.3.4:5678"}, t), "1.2.3.4");
  EXPECT_EQ(resolve("10.0.0.1", {"[2001:db8::1]:443"}, t), "2001:db8::1");
  EXPECT_EQ(resolve("10.0.0.1", {"[2001:db8::1]"}, t), "2001:db8::1");
}

TEST(ResolveClient, Ipv6PeersAndHops) {
  const auto t = trust({"fd00::/8"});
  EXPECT_EQ(resolve("fd00::1", {"2001:db8::5, fd00::2"}, t), "2001:db8::5");
  EXPECT_EQ(resolve("2001:db8::9", {"2001:db8::5"}, t), "2001:db8::9");
  // Normalized: one address, one spelling.
  EXPECT_EQ(resolve("fd00::1", {"2001:0DB8:0000::0005"}, t), "2001:db8::5");
}

TEST(ResolveClient, MappedIpv4IsNormalizedAndTrusted) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("::ffff:203.0.113.9", {}, t), "203.0.113.9");
  EXPECT_EQ(resolve("::ffff:10.0.0.1", {"203.0.113.7"}, t), "203.0.113.7");
  EXPECT_EQ(resolve("::ffff:10.0.0.1", {"::ffff:10.2.2.2, ::ffff:10.3.3.3"}, t), "10.2.2.2");
}

TEST(ResolveClient, MultipleHeaderLinesReadAsOneListInOrder) {
  const auto t = trust({"10.0.0.0/8"});
  EXPECT_EQ(resolve("10.0.0.1", {"203.0.113.1, 10.1.1.1", "10.2.2.2"}, t), "203.0.113.1");
  EXPECT_EQ(resolve("10.0.0.1", {"203.0.113.1", "198.51.100.2, 10.1.1.1"}, t), "198.51.100.2");
  EXPECT_EQ(resolve("10.0.0.1", {"10.5.5.5", "10.1.1.1"}, t), "10.5.5.5");
}

}  // namespace

// One IPv6 subscriber has a /64: a bucket per address would be a bucket per
// request for a client that rotates through it.
TEST(ClientKey, IPv6ClientsAreKeyedByTheirSlash64) {
  EXPECT_EQ(client_key("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(client_key("2001:db8:1:1::1"), "2001:db8:1:1::/64");
  EXPECT_EQ(client_key("2001:db8:1:1::7"), "2001:db8:1:1::/64");
  EXPECT_EQ(client_key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
  EXPECT_EQ(client_key("fe80::1%eth0"), client_key("fe80::1%eth1"));
  EXPECT_EQ(client_key("::1"), "::/64");
}
