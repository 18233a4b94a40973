// Turns what Asio, Beast and OpenSSL report into the jobrelay::errc a caller
// of the upstream client can act on.
#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>

#include "jobrelay/error.hpp"

namespace jobrelay::upstream::detail {

// A failed read of the answer. `unparsed` is what was received but not yet
// consumed by the parser: it tells "not HTTP at all" from "HTTP cut short".
errc classify_read_error(const boost::system::error_code& ec, std::string_view unparsed);

// True for the ways a peer ends a connection (EOF, reset, broken pipe, TLS
// truncation).
bool is_peer_closed(const boost::system::error_code& ec);

}  // namespace jobrelay::upstream::detail
