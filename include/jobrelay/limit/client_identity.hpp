// Who a request counts against for rate limiting (API.md "Rate limiting"):
// the peer address, or, only behind a trusted proxy, the right-most
// X-Forwarded-For hop that is not itself a trusted proxy. Everything left of
// that hop is written by the client and so cannot be believed.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jobrelay::limit {

// Addresses are compared in one family: IPv4 is held as IPv4-mapped IPv6, so
// a dual-stack listener's ::ffff:10.0.0.1 peer matches 10.0.0.0/8.
class cidr {
 public:
  // "10.0.0.0/8", "fd00::/8", or a plain address ("10.0.0.1" = /32,
  // "::1" = /128). Host bits set past the prefix ("10.0.0.1/8") are refused
  // as a likely typo; `why` (optional) receives the reason.
  static std::optional<cidr> parse(std::string_view text, std::string* why = nullptr);

  bool contains(const boost::asio::ip::address& address) const;
  std::string to_string() const;

 private:
  cidr(boost::asio::ip::address_v6::bytes_type network, unsigned prefix_v6, bool v4)
      : network_(network), prefix_v6_(prefix_v6), v4_(v4) {}

  boost::asio::ip::address_v6::bytes_type network_{};
  unsigned prefix_v6_ = 128;  // over the mapped form: a v4 /8 is 104 here
  bool v4_ = false;
};

class trusted_proxies {
 public:
  trusted_proxies() = default;
  explicit trusted_proxies(std::vector<cidr> ranges) : ranges_(std::move(ranges)) {}

  // All or nothing: the first entry that is not a CIDR or address fails it,
  // and `why` names that entry.
  static std::optional<trusted_proxies> parse(const std::vector<std::string>& entries,
                                              std::string* why = nullptr);

  bool contains(const boost::asio::ip::address& address) const;
  bool empty() const { return ranges_.empty(); }

 private:
  std::vector<cidr> ranges_;
};

// A normalized textual address: IPv4-mapped IPv6 is shown as IPv4, so one
// client is one key whichever way it reached a dual-stack listener.
using client_id = std::string;

std::string normalized_address(const boost::asio::ip::address& address);

// One X-Forwarded-For entry as an address: "1.2.3.4", "1.2.3.4:5678",
// "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:5678". Anything else
// (obfuscated identifiers, "unknown", garbage) is nullopt.
std::optional<boost::asio::ip::address> parse_forwarded_entry(std::string_view entry);

// `forwarded_for` holds every X-Forwarded-For header line in arrival order;
// they are read as one comma-separated list. Walking right to left from the
// peer, trusted hops are skipped and the first untrusted one is the client.
// A junk entry stops the walk at the last trusted hop seen, never believing
// what lies left of it; a chain that is trusted all the way yields its
// left-most entry. Never throws.
client_id resolve_client(const boost::asio::ip::address& peer,
                         std::span<const std::string_view> forwarded_for,
                         const trusted_proxies& trusted);

// The key a client's rate-limit buckets (and idempotency keys) are kept
// under: its IPv4 address, or the /64 of its IPv6 one ("2001:db8:1:1::/64"):
// one IPv6 subscriber gets a whole /64, and would otherwise get a bucket per
// address in it. Zone ids (fe80::1%eth0) are dropped the same way.
client_id client_key(const client_id& normalized);

}  // namespace jobrelay::limit
