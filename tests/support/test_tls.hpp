// TLS material for protocol tests, from test_pki: a throwaway CA, a server
// certificate for the given subjectAltNames, and the CA as a file.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace jobrelay::testing {

class temp_file;

struct tls_material {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string ca_file_path;  // for upstream.tls.ca_file; lives as long as this struct's copies
  std::shared_ptr<temp_file> ca_file;
};

// e.g. {"DNS:localhost", "IP:127.0.0.1"}
tls_material make_tls_material(const std::vector<std::string>& subject_alt_names);

}  // namespace jobrelay::testing
