// Who is asking, and may they: the client identity of API.md (peer address,
// or the right-most untrusted X-Forwarded-For entry behind a trusted proxy)
// and the per-client token buckets for submits and polls.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "jobrelay/http/message.hpp"
#include "jobrelay/http/router.hpp"

namespace jobrelay {
struct config;
class clock;
}  // namespace jobrelay

namespace jobrelay::api {

enum class limit_class { submit, poll };

struct admission {
  std::string client_id;
  bool peer_is_trusted_proxy = false;
  std::optional<http::response> rejection;  // a 429 problem, ready to send
};

class client_gate {
 public:
  client_gate(const config& cfg, const clock& clock);
  ~client_gate();

  admission admit(const http::request_context& ctx, limit_class which);

  // Drops idle buckets; called by a periodic timer.
  void sweep();
  std::size_t tracked_clients() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace jobrelay::api
