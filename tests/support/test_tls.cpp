#include "test_tls.hpp"

#include "test_pki.hpp"

namespace jobrelay::testing {

tls_material make_tls_material(const std::vector<std::string>& subject_alt_names) {
  certificate_names names;
  names.dns.clear();
  names.ips.clear();
  for (const auto& san : subject_alt_names) {
    if (san.rfind("DNS:", 0) == 0) names.dns.push_back(san.substr(4));
    if (san.rfind("IP:", 0) == 0) names.ips.push_back(san.substr(3));
  }
  names.common_name = names.dns.empty() ? "test server" : names.dns.front();
  test_ca ca;
  const auto server = ca.issue(names);
  auto file = std::make_shared<temp_file>(ca.cert_pem());
  return {ca.cert_pem(), server.cert_pem, server.key_pem, file->path(), file};
}

}  // namespace jobrelay::testing
