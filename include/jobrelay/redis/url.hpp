// Where Redis is, from a redis:// or rediss:// URL. Apart from the client so
// the configuration checks a URL with the very parser the client uses.
#pragma once

#include <string>
#include <string_view>

#include "jobrelay/error.hpp"

namespace jobrelay::redis {

// redis://[user:pass@]host:port/db (rediss:// for TLS).
struct endpoint {
  std::string host = "127.0.0.1";
  std::string port = "6379";
  std::string user;      // empty: AUTH with the password only (or no AUTH)
  std::string password;  // empty: no AUTH
  unsigned db = 0;
  bool tls = false;
};
// errc::store_unavailable with `why` filled for a URL it cannot use. `why`
// never repeats the password.
result<endpoint> parse_url(std::string_view url, std::string* why = nullptr);

}  // namespace jobrelay::redis
