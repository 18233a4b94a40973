// Expected failures inside jobrelay travel as error codes of this category,
// never as exceptions (those are kept for start-up and the last-resort 500).
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <type_traits>

namespace jobrelay {

enum class errc {
  ok = 0,
  // Input from clients.
  json_invalid,
  json_too_deep,
  json_not_object,
  // Upstream transport and protocol.
  upstream_bad_url,         // not http(s), unparsable, no host
  upstream_resolve_failed,  // DNS
  upstream_connect_failed,
  upstream_tls_failed,
  upstream_timeout,          // the whole call outlived request_timeout_ms
  upstream_closed,           // the peer closed or reset mid-call
  upstream_bad_response,     // not HTTP
  upstream_response_too_large,
  upstream_protocol,  // an answer that is not the upstream protocol of API.md
  upstream_backlog,   // too many accepted jobs wait for their submit (back-pressure)
  // Store.
  job_not_found,
  store_full,         // limits.max_jobs
  store_unavailable,  // an external store cannot be reached
  lease_lost,         // another replica polls this job now
  // Life cycle.
  shutting_down,
};

const boost::system::error_category& jobrelay_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), jobrelay_category()};
}

template <class T>
using result = boost::system::result<T>;

}  // namespace jobrelay

template <>
struct boost::system::is_error_code_enum<jobrelay::errc> : std::true_type {};
