// Boost.URL 1.81 takes "http://127.0.0.1.evil.example/x" for host 127.0.0.1
// and path ".evil.example/x": an IPv4 address followed by more host bytes
// ("127.0.0.1a:80", "1.2.3.4.5", "127.0.0.1:80:81") ends the host early and
// the rest becomes the path. RFC 3986 says a path after an authority is empty
// or starts with '/', so every parsed URL with an authority is checked here:
// one that fails named a host the parser did not see whole.
#pragma once

#include <boost/url/url_view_base.hpp>

namespace jobrelay {

inline bool authority_read_whole(const boost::urls::url_view_base& u) {
  const auto path = u.encoded_path();
  return !u.has_authority() || path.empty() || path.front() == '/';
}

}  // namespace jobrelay
