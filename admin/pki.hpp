// Keys and certificates for `console-gw setup` and `check`, made and read with
// OpenSSL: the token key pair, the gateway's TLS certificate (self-signed with
// the right subjectAltName, or a CSR for the organisation's CA), and what check
// needs to know of a certificate. Everything is PEM text; writing files is the
// caller's.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cgw::admin {

class PkiError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct KeyPair {
  std::string private_pem;  // PKCS#8
  std::string public_pem;   // SubjectPublicKeyInfo
};

// An Ed25519 key pair: the token signing key (EdDSA) and its public half.
KeyPair generate_ed25519();

// The public half of a PEM private key (any type OpenSSL reads).
std::string public_key_of(const std::string& private_pem);

struct CertificateRequest {
  std::string common_name;         // the gateway's FQDN
  std::vector<std::string> names;  // DNS names or IP addresses for subjectAltName
  int days = 825;
};

struct CertificateAndKey {
  std::string certificate_pem;  // or the CSR, for make_csr()
  std::string key_pem;          // EC P-256, PKCS#8
};

// A self-signed server certificate (serverAuth) with the names as subjectAltName,
// for `key_pem` (a new EC P-256 key when empty).
CertificateAndKey make_self_signed(const CertificateRequest& request,
                                   const std::string& key_pem = {});
// A key and a certificate signing request carrying the same names.
CertificateAndKey make_csr(const CertificateRequest& request);

struct CertificateInfo {
  std::string subject;
  std::vector<std::string> names;  // subjectAltName DNS and IP entries
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  bool self_signed = false;
};

// The first certificate of a PEM chain file. Throws PkiError.
CertificateInfo read_certificate_file(const std::string& path);

// Whether `name` is covered by the certificate's names (exact, or one leading
// "*." label).
bool certificate_covers(const CertificateInfo& info, const std::string& name);

}  // namespace cgw::admin
