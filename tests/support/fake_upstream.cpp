#include "fake_upstream.hpp"

#include "test_tls.hpp"

namespace jobrelay::testing {

upstream_action fake_action::to_action() const {
  switch (what) {
    case kind::hang: return upstream_action::hang();
    case kind::close: return upstream_action::close();
    case kind::garbage: return upstream_action::garbage("SSH-2.0-OpenSSH_9.2 what is this\r\n\r\n\x01\x02");
    case kind::partial: return upstream_action::partial("{\"status\":", 1000);
    case kind::respond: break;
  }
  auto a = upstream_action::respond(status, body);
  for (const auto& [name, value] : headers) a.header(name, value);
  return a;
}

upstream_handler fake_upstream::adapt(handler h) {
  return [h = std::move(h)](const recorded_request& r) { return h(r).to_action(); };
}

fake_upstream::fake_upstream(handler h, const tls_material* tls)
    : server_(tls ? std::make_unique<scripted_upstream>(adapt(std::move(h)),
                                                        tls_identity{tls->server_cert_pem, tls->server_key_pem})
                  : std::make_unique<scripted_upstream>(adapt(std::move(h)))) {}

void fake_upstream::set_handler(handler h) { server_->set_handler(adapt(std::move(h))); }

std::size_t fake_upstream::count(std::string_view method, std::string_view prefix) const {
  std::size_t n = 0;
  for (const auto& r : server_->requests())
    if (r.method == method && r.target.rfind(prefix, 0) == 0) ++n;
  return n;
}

}  // namespace jobrelay::testing
