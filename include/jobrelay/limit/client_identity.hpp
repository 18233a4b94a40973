// Who a request comes from (API.md "Rate limiting"): the peer address, or,
// only when the peer is a trusted proxy, the right-most X-Forwarded-For entry
// that is not itself a trusted proxy. A client cannot spoof its identity by
// sending X-Forwarded-For itself.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobrelay::limit {

class cidr {
 public:
  // "10.0.0.0/8", "::1/128", or a plain address (a /32 or /128).
  static std::optional<cidr> parse(std::string_view text);
  // IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 ranges.
  bool contains(const boost::asio::ip::address& a) const;

 private:
  boost::asio::ip::address network_;
  unsigned prefix_ = 0;
};

class trusted_proxies {
 public:
  trusted_proxies() = default;
  // Throws std::invalid_argument naming the bad entry (start-up only).
  explicit trusted_proxies(const std::vector<std::string>& cidrs);
  bool contains(const boost::asio::ip::address& a) const;
  bool empty() const { return ranges_.empty(); }

 private:
  std::vector<cidr> ranges_;
};

// `forwarded_for` holds every X-Forwarded-For header line in order. Returns
// the client's address as text (IPv4-mapped addresses in their IPv4 form).
std::string resolve_client(const boost::asio::ip::address& peer,
                           const std::vector<std::string_view>& forwarded_for,
                           const trusted_proxies& trusted);

}  // namespace jobrelay::limit
