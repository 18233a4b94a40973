#include "jobrelay/error.hpp"

#include <string>

namespace jobrelay {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "jobrelay"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::json_invalid: return "body is not valid JSON";
      case errc::json_too_deep: return "JSON nested too deeply";
      case errc::json_not_object: return "JSON body is not an object";
      case errc::upstream_bad_url: return "upstream URL is not a valid http(s) URL";
      case errc::upstream_resolve_failed: return "upstream host name could not be resolved";
      case errc::upstream_connect_failed: return "could not connect to the upstream";
      case errc::upstream_tls_failed: return "TLS handshake with the upstream failed";
      case errc::upstream_timeout: return "upstream call timed out";
      case errc::upstream_closed: return "upstream closed the connection mid-call";
      case errc::upstream_bad_response: return "upstream answer is not valid HTTP";
      case errc::upstream_response_too_large: return "upstream answer exceeds max_response_bytes";
      case errc::upstream_protocol: return "upstream answer does not follow the protocol";
      case errc::upstream_backlog: return "too many accepted jobs wait for the upstream to take them";
      case errc::job_not_found: return "job not found";
      case errc::store_full: return "job table is full";
      case errc::store_unavailable: return "results store unavailable";
      case errc::lease_lost: return "another replica holds the job's lease";
      case errc::shutting_down: return "server is shutting down";
    }
    return "unknown jobrelay error";
  }
};

}  // namespace

const boost::system::error_category& jobrelay_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace jobrelay
