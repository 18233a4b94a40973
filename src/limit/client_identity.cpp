#include "jobrelay/limit/client_identity.hpp"

#include <charconv>
#include <stdexcept>

namespace jobrelay::limit {
namespace ip = boost::asio::ip;

namespace {

ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// One X-Forwarded-For entry: an address, "[v6]", "[v6]:port" or "v4:port".
std::optional<ip::address> parse_entry(std::string_view e) {
  e = trim(e);
  if (e.size() > 64) return std::nullopt;
  if (!e.empty() && e.front() == '[') {
    const auto close = e.find(']');
    if (close == e.npos) return std::nullopt;
    e = e.substr(1, close - 1);
  } else if (e.find(':') != e.npos && e.find(':') == e.rfind(':') && e.find('.') != e.npos) {
    e = e.substr(0, e.find(':'));  // v4:port
  }
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(e), ec);
  if (ec) return std::nullopt;
  return unmapped(a);
}

}  // namespace

std::optional<cidr> cidr::parse(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  boost::system::error_code ec;
  auto addr = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  addr = unmapped(addr);
  const unsigned max_prefix = addr.is_v4() ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != text.npos) {
    const auto p = text.substr(slash + 1);
    const auto [ptr, perr] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || perr != std::errc() || ptr != p.data() + p.size() || prefix > max_prefix)
      return std::nullopt;
  }
  cidr c;
  c.network_ = addr;
  c.prefix_ = prefix;
  return c;
}

bool cidr::contains(const ip::address& raw) const {
  const auto a = unmapped(raw);
  if (a.is_v4() != network_.is_v4()) return false;
  auto bytes_match = [this](const auto& x, const auto& y) {
    unsigned bits = prefix_;
    for (std::size_t i = 0; i < x.size() && bits > 0; ++i) {
      const unsigned take = bits >= 8 ? 8 : bits;
      const unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
      if ((x[i] & mask) != (y[i] & mask)) return false;
      bits -= take;
    }
    return true;
  };
  if (a.is_v4()) return bytes_match(a.to_v4().to_bytes(), network_.to_v4().to_bytes());
  return bytes_match(a.to_v6().to_bytes(), network_.to_v6().to_bytes());
}

trusted_proxies::trusted_proxies(const std::vector<std::string>& cidrs) {
  for (const auto& text : cidrs) {
    auto c = cidr::parse(text);
    if (!c) throw std::invalid_argument("not a CIDR or IP address: \"" + text + "\"");
    ranges_.push_back(*c);
  }
}

bool trusted_proxies::contains(const ip::address& a) const {
  for (const auto& r : ranges_)
    if (r.contains(a)) return true;
  return false;
}

std::string resolve_client(const ip::address& peer,
                           const std::vector<std::string_view>& forwarded_for,
                           const trusted_proxies& trusted) {
  const auto peer_addr = unmapped(peer);
  if (!trusted.contains(peer_addr)) return peer_addr.to_string();
  // Walk right to left across all lines: the nearest hops come last.
  ip::address client = peer_addr;
  for (auto line = forwarded_for.rbegin(); line != forwarded_for.rend(); ++line) {
    std::string_view rest = *line;
    while (!rest.empty()) {
      const auto comma = rest.rfind(',');
      const auto entry = comma == rest.npos ? rest : rest.substr(comma + 1);
      rest = comma == rest.npos ? std::string_view{} : rest.substr(0, comma);
      const auto parsed = parse_entry(entry);
      // Junk cannot be attributed: the last trusted hop is who we know.
      if (!parsed) return client.to_string();
      client = *parsed;
      if (!trusted.contains(client)) return client.to_string();
    }
  }
  return client.to_string();  // every hop trusted: the left-most
}

}  // namespace jobrelay::limit
