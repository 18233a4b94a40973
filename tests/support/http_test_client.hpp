// A blocking HTTP/1.1 client for integration tests: whole requests through
// Beast, or raw bytes for the malformed requests a real client would not send.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "jobrelay/http/message.hpp"

namespace jobrelay::testing {

struct reply {
  unsigned status = 0;
  std::string body;
  jobrelay::http::response raw;
  std::string header(std::string_view name) const {
    auto it = raw.find(boost::beast::string_view(name.data(), name.size()));
    return it == raw.end() ? std::string() : std::string(it->value());
  }
};

// A keep-alive connection to 127.0.0.1:port.
class http_connection {
 public:
  explicit http_connection(unsigned short port,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~http_connection();
  reply send(jobrelay::http::request req);
  // Writes raw bytes; reads everything until the peer closes or the timeout.
  std::string raw(std::string_view bytes);
  // True when the server closed the connection (read returns EOF) in time.
  bool closed_by_peer(std::chrono::milliseconds within);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// One request on a fresh connection. Sets Host and, for a body, the length.
reply http_get(unsigned short port, std::string target,
               std::vector<std::pair<std::string, std::string>> headers = {});
reply http_post(unsigned short port, std::string target, std::string body,
                std::vector<std::pair<std::string, std::string>> headers = {
                    {"Content-Type", "application/json"}});
reply http_request(unsigned short port, jobrelay::http::verb method, std::string target,
                   std::string body, std::vector<std::pair<std::string, std::string>> headers);

// Raw bytes on a fresh connection; everything the server sent back before it
// closed (or the timeout passed).
std::string raw_exchange(unsigned short port, std::string_view bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace jobrelay::testing
