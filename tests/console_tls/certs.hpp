// A small PKI made at run time for the console TLS tests: a CA, certificates
// it issues (servers, clients; valid, expired), each written as PEM files in a
// Scratch directory. P-256 keys, made with OpenSSL's API rather than its
// command line so that any validity period, past ones included, can be set.
#pragma once

#include "tests/support/scratch.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace cgw::test {

struct CertFiles {
  std::string cert;  // PEM certificate
  std::string key;   // PEM private key (unencrypted)
};

struct CertSpec {
  std::string common_name = "console";
  // subjectAltName entries as OpenSSL writes them: "DNS:localhost", "IP:127.0.0.1".
  std::vector<std::string> alt_names;
  bool client = false;  // extendedKeyUsage clientAuth rather than serverAuth
  // Validity relative to now.
  std::chrono::seconds not_before{-3600};
  std::chrono::seconds not_after{std::chrono::hours(24)};
};

// Common specs: a client certificate ("gateway"), a server certificate for
// 127.0.0.1 and localhost, and the same for a period that has passed.
CertSpec client_spec();
CertSpec server_spec();
CertSpec expired_server_spec();

// A self-signed CA, <name>.crt and <name>.key.
CertFiles make_ca(const Scratch& scratch, const std::string& name);

// A certificate issued by `ca`, <name>.crt and <name>.key.
CertFiles issue_certificate(const Scratch& scratch, const CertFiles& ca, const std::string& name,
                            const CertSpec& spec);

}  // namespace cgw::test
