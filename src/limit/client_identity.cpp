#include "jobrelay/limit/client_identity.hpp"
#include "jobrelay/text.hpp"

#include <algorithm>
#include <charconv>

namespace jobrelay::limit {
namespace {

namespace ip = boost::asio::ip;

ip::address_v6::bytes_type as_v6_bytes(const ip::address& a) {
  if (a.is_v4()) return ip::make_address_v6(ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

bool prefix_matches(const ip::address_v6::bytes_type& a, const ip::address_v6::bytes_type& b,
                    unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool host_bits_clear(const ip::address_v6::bytes_type& a, unsigned prefix) {
  for (unsigned bit = prefix; bit < 128; ++bit) {
    if (a[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

void set_why(std::string* why, std::string text) {
  if (why) *why = std::move(text);
}


std::optional<ip::address> parse_plain(std::string_view text) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

bool is_port(std::string_view s) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size() && port <= 65535;
}

ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

}  // namespace

std::optional<cidr> cidr::parse(std::string_view text, std::string* why) {
  const auto slash = text.find('/');
  const std::string_view host = text.substr(0, slash);
  // make_address accepts "fe80::1%eth0"; a zone means nothing in a range.
  if (host.find('%') != std::string_view::npos) {
    set_why(why, "a CIDR takes no zone id");
    return std::nullopt;
  }
  auto address = parse_plain(host);
  if (!address) {
    // Appended rather than `"\"" + std::string(host)`: GCC 12 warns about that
    // (-Wrestrict, a false positive).
    std::string message = "\"";
    message += host;
    message += "\" is not an IPv4 or IPv6 address";
    set_why(why, message);
    return std::nullopt;
  }
  const bool v4 = address->is_v4();
  const unsigned max_prefix = v4 ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        prefix > max_prefix) {
      set_why(why, "prefix length must be 0.." + std::to_string(max_prefix));
      return std::nullopt;
    }
  }
  const unsigned prefix_v6 = v4 ? prefix + 96 : prefix;
  const auto bytes = as_v6_bytes(*address);
  if (!host_bits_clear(bytes, prefix_v6)) {
    // Suggest the network the user probably meant.
    ip::address_v6::bytes_type masked = bytes;
    for (unsigned bit = prefix_v6; bit < 128; ++bit)
      masked[bit / 8] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
    const cidr network(masked, prefix_v6, v4);
    set_why(why, "host bits are set past the prefix; did you mean " + network.to_string() + "?");
    return std::nullopt;
  }
  return cidr(bytes, prefix_v6, v4);
}

bool cidr::contains(const ip::address& address) const {
  return prefix_matches(network_, as_v6_bytes(address), prefix_v6_);
}

std::string cidr::to_string() const {
  const ip::address_v6 a(network_);
  if (v4_)
    return ip::make_address_v4(ip::v4_mapped, a).to_string() + "/" +
           std::to_string(prefix_v6_ - 96);
  return a.to_string() + "/" + std::to_string(prefix_v6_);
}

std::optional<trusted_proxies> trusted_proxies::parse(const std::vector<std::string>& entries,
                                                      std::string* why) {
  std::vector<cidr> ranges;
  ranges.reserve(entries.size());
  for (const auto& entry : entries) {
    std::string reason;
    auto range = cidr::parse(entry, &reason);
    if (!range) {
      set_why(why, "\"" + entry + "\": " + reason);
      return std::nullopt;
    }
    ranges.push_back(*range);
  }
  return trusted_proxies(std::move(ranges));
}

bool trusted_proxies::contains(const ip::address& address) const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&](const cidr& c) { return c.contains(address); });
}

std::string normalized_address(const ip::address& address) {
  // Every request asks this of its peer, and a thread sees the same few peers
  // (the load balancer, one client's connections) again and again: the text
  // of the last one is kept, since inet_ntop was ~4% of a small GET.
  thread_local std::optional<ip::address> last;
  thread_local std::string last_text;
  if (last != address) {
    last_text = unmapped(address).to_string();
    last = address;
  }
  return last_text;
}

std::optional<ip::address> parse_forwarded_entry(std::string_view entry) {
  entry = trim_ows(entry);
  if (entry.empty()) return std::nullopt;
  if (entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = entry.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return std::nullopt;
    auto a = parse_plain(entry.substr(1, close - 1));
    if (!a || !a->is_v6()) return std::nullopt;
    return a;
  }
  // One colon: IPv4 with a port. More than one: bare IPv6.
  const auto colon = entry.find(':');
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
    if (!is_port(entry.substr(colon + 1))) return std::nullopt;
    auto a = parse_plain(entry.substr(0, colon));
    if (!a || !a->is_v4()) return std::nullopt;
    return a;
  }
  return parse_plain(entry);
}

client_id client_key(const client_id& normalized) {
  if (normalized.find(':') == std::string::npos) return normalized;  // IPv4
  // The same few clients come again and again (see normalized_address).
  thread_local std::string last_in, last_out;
  if (normalized == last_in) return last_out;
  boost::system::error_code ec;
  const auto a = ip::make_address_v6(normalized, ec);
  if (ec) return normalized;
  auto bytes = a.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  last_in = normalized;
  last_out = ip::address_v6(bytes).to_string() + "/64";
  return last_out;
}

client_id resolve_client(const ip::address& peer, std::span<const std::string_view> forwarded_for,
                         const trusted_proxies& trusted) {
  if (!trusted.contains(peer)) return normalized_address(peer);

  // The hop that handed us the rest of the list; everything it says about
  // hops further left is as good as its own trustworthiness.
  ip::address last_trusted = peer;
  for (auto line = forwarded_for.rbegin(); line != forwarded_for.rend(); ++line) {
    std::string_view rest = *line;
    while (true) {
      const auto comma = rest.rfind(',');
      const std::string_view raw = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      // Empty list elements ("a, , b") are allowed by HTTP list syntax.
      if (!trim_ows(raw).empty()) {
        auto hop = parse_forwarded_entry(raw);
        if (!hop) return normalized_address(last_trusted);
        if (!trusted.contains(*hop)) return normalized_address(*hop);
        last_trusted = *hop;
      }
      if (comma == std::string_view::npos) break;
      rest = rest.substr(0, comma);
    }
  }
  return normalized_address(last_trusted);
}

}  // namespace jobrelay::limit
