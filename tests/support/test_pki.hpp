// TLS material made at test time with the OpenSSL C API: a throw-away CA and
// server certificates it signs, as PEM strings. Nothing is shipped in the
// repository and no openssl binary is needed.
//
//   jobrelay::testing::test_ca ca;
//   auto server = ca.issue();                          // localhost + 127.0.0.1
//   auto name_only = ca.issue({.ips = {}});            // localhost only
//   jobrelay::testing::temp_file ca_file(ca.cert_pem());  // for tls_ca_file
//
// Keys are EC P-256 (fast to generate); certificates are valid from an hour
// ago for a week. Failures throw std::runtime_error: this is test set-up.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jobrelay::testing {

struct tls_identity {
  std::string cert_pem;  // the certificate (a server's: just its own, not the chain)
  std::string key_pem;   // its private key, PKCS#8
};

struct certificate_names {
  std::string common_name = "localhost";
  std::vector<std::string> dns = {"localhost"};  // subjectAltName DNS entries
  std::vector<std::string> ips = {"127.0.0.1"};  // subjectAltName IP entries
};

class test_ca {
 public:
  explicit test_ca(std::string common_name = "jobrelay test CA");

  const tls_identity& identity() const { return identity_; }
  const std::string& cert_pem() const { return identity_.cert_pem; }

  // A server certificate (serverAuth) for `names`, signed by this CA.
  tls_identity issue(const certificate_names& names = {}) const;

 private:
  tls_identity identity_;
};

// A file that exists for the lifetime of this object (e.g. a CA for
// client_options::tls_ca_file).
class temp_file {
 public:
  explicit temp_file(std::string_view contents, std::string_view suffix = ".pem");
  ~temp_file();
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace jobrelay::testing
