// TLS material made at test time with OpenSSL: a throwaway CA and a server
// certificate it signed. Nothing secret is shipped in the repository.
#pragma once

#include <string>
#include <vector>

namespace jobrelay::testing {

struct tls_material {
  std::string ca_cert_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string ca_file_path;  // ca_cert_pem written to a temp file (for upstream.tls.ca_file)
};

// A CA and a server certificate for the given subjectAltNames, e.g.
// {"DNS:localhost", "IP:127.0.0.1"}.
tls_material make_tls_material(const std::vector<std::string>& subject_alt_names);

}  // namespace jobrelay::testing
