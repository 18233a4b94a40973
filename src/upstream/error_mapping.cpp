#include "error_mapping.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/error.hpp>

namespace jobrelay::upstream::detail {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

bool is_peer_closed(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
         ec == asio::error::not_connected || ec == asio::ssl::error::stream_truncated ||
         ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message;
}

namespace {

// Could `bytes` be the start of a status line? Anything else is not HTTP.
bool could_be_status_line(std::string_view bytes) {
  constexpr std::string_view prefix = "HTTP/";
  const std::size_t n = std::min(bytes.size(), prefix.size());
  return bytes.substr(0, n) == prefix.substr(0, n);
}

}  // namespace

errc classify_read_error(const boost::system::error_code& ec, std::string_view unparsed) {
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
      ec == bhttp::error::buffer_overflow) {
    return errc::upstream_response_too_large;
  }
  if (is_peer_closed(ec)) {
    // Beast only rejects a status line once it has enough bytes; a few bytes
    // of nonsense followed by a close are still not HTTP.
    if (!could_be_status_line(unparsed)) return errc::upstream_bad_response;
    return errc::upstream_closed;
  }
  // Every other parser complaint (bad status line, field, chunk) means the
  // peer does not speak HTTP, or not well enough to trust.
  const boost::system::error_code parser_error = bhttp::error::bad_version;
  if (ec.category() == parser_error.category()) return errc::upstream_bad_response;
  return errc::upstream_closed;
}

}  // namespace jobrelay::upstream::detail
