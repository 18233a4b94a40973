// One TCP (or TLS) connection to Redis and the reader of its replies. Opening
// it is the whole greeting: resolve, connect, TLS handshake, AUTH, SELECT and
// a PING, all within connect_timeout, so that a link that opened is one whose
// server answers. Used by one owner, on one strand; close() from that strand
// ends whatever is pending on it.
#pragma once

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobrelay/redis/client.hpp"
#include "jobrelay/redis/resp.hpp"

namespace jobrelay::redis::detail {

// What every link of one client or subscriber shares.
struct link_settings {
  endpoint where;
  client_options options;
  // For rediss://; null when the trust store could not be loaded (then
  // tls_problem says why, and every open() fails with it).
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string tls_problem;
  std::string name;  // "redis 127.0.0.1:6379", for log lines
};

// Settings named `what` ("redis", "redis subscriber") for log lines, with a
// TLS context when `where` asks for one (an unusable trust store is logged
// here, once).
std::shared_ptr<const link_settings> make_link_settings(endpoint where, client_options options,
                                                        std::string_view what);

class link : public std::enable_shared_from_this<link> {
 public:
  // `strand`: the owner's, where every operation on this link runs.
  link(const boost::asio::any_io_executor& strand, std::shared_ptr<const link_settings> settings);

  // False (and `why`) when any step fails or the time runs out. `then`:
  // commands of one reply each sent after the greeting (a subscriber's
  // SUBSCRIBEs), whose answers must not be errors either.
  boost::asio::awaitable<bool> open(std::string& why, const std::vector<command>& then = {});

  // Writes all of `bytes`; false (and `why`) when the connection failed.
  boost::asio::awaitable<bool> send(const std::string& bytes, std::string& why);
  // Reads what has arrived into replies(); false (and `why`) on end of
  // stream, a socket error or bytes that are not RESP.
  boost::asio::awaitable<bool> receive(std::string& why);
  reply_reader& replies() { return reader_; }

  void close() noexcept;
  bool closed() const { return closed_; }

 private:
  boost::asio::awaitable<bool> connect(std::string& why);
  boost::asio::awaitable<bool> greet(std::string& why, const std::vector<command>& then);
  boost::asio::ip::tcp::socket& socket();

  boost::asio::any_io_executor strand_;
  std::shared_ptr<const link_settings> settings_;
  boost::asio::ip::tcp::resolver resolver_;
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  reply_reader reader_;
  std::array<char, 16384> buffer_;
  bool closed_ = false;
};

}  // namespace jobrelay::redis::detail
