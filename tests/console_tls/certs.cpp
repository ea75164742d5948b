#include "tests/console_tls/certs.hpp"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

namespace cgw::test {

namespace {

struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bio = std::unique_ptr<BIO, BioFree>;

void check(bool ok, const char* what) {
  if (!ok) {
    char text[256];
    ERR_error_string_n(ERR_get_error(), text, sizeof text);
    throw std::runtime_error(std::string("test PKI: ") + what + ": " + text);
  }
}

Key new_key() {
  Key key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()), X509_EXTENSION_free);
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

Cert new_certificate(EVP_PKEY* key, const std::string& common_name, std::chrono::seconds from,
                     std::chrono::seconds to) {
  static long serial = 1;
  Cert cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(from.count()));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(to.count()));
  check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  return cert;
}

CertFiles write_files(const Scratch& scratch, const std::string& name, X509* cert, EVP_PKEY* key) {
  CertFiles files{scratch.path(name + ".crt"), scratch.path(name + ".key")};
  Bio c(BIO_new_file(files.cert.c_str(), "w"));
  check(c && PEM_write_bio_X509(c.get(), cert) == 1, "writing the certificate");
  Bio k(BIO_new_file(files.key.c_str(), "w"));
  check(k && PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "writing the key");
  return files;
}

template <class T, class Read>
T read_pem(const std::string& file, Read read) {
  Bio in(BIO_new_file(file.c_str(), "r"));
  check(in != nullptr, "opening a PEM file");
  T value(read(in.get(), nullptr, nullptr, nullptr));
  check(value != nullptr, "reading a PEM file");
  return value;
}

}  // namespace

CertSpec client_spec() {
  CertSpec spec;
  spec.common_name = "gateway";
  spec.client = true;
  return spec;
}

CertSpec server_spec() {
  CertSpec spec;
  spec.alt_names = {"IP:127.0.0.1", "DNS:localhost"};
  return spec;
}

CertSpec expired_server_spec() {
  CertSpec spec = server_spec();
  spec.not_before = std::chrono::hours(-48);
  spec.not_after = std::chrono::hours(-24);
  return spec;
}

CertFiles make_ca(const Scratch& scratch, const std::string& name) {
  Key key = new_key();
  Cert cert = new_certificate(key.get(), name + " CA", std::chrono::seconds(-3600),
                              std::chrono::hours(24 * 30));
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) == 1, "issuer");
  add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) != 0, "X509_sign");
  return write_files(scratch, name, cert.get(), key.get());
}

CertFiles issue_certificate(const Scratch& scratch, const CertFiles& ca, const std::string& name,
                            const CertSpec& spec) {
  Cert ca_cert = read_pem<Cert>(ca.cert, PEM_read_bio_X509);
  Key ca_key = read_pem<Key>(ca.key, PEM_read_bio_PrivateKey);
  Key key = new_key();
  Cert cert = new_certificate(key.get(), spec.common_name, spec.not_before, spec.not_after);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) == 1, "issuer");
  add_extension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature");
  add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                spec.client ? "clientAuth" : "serverAuth");
  add_extension(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid");
  if (!spec.alt_names.empty()) {
    std::string names;
    for (const std::string& n : spec.alt_names) names += (names.empty() ? "" : ",") + n;
    add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name, names);
  }
  check(X509_sign(cert.get(), ca_key.get(), EVP_sha256()) != 0, "X509_sign");
  return write_files(scratch, name, cert.get(), key.get());
}

}  // namespace cgw::test
