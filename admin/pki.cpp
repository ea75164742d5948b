#include "admin/pki.hpp"

#include "token/openssl_handles.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <ctime>
#include <memory>

namespace cgw::admin {
namespace {

template <auto Free>
using deleter = token::detail::openssl_deleter<Free>;
using bio_ptr = std::unique_ptr<BIO, deleter<&BIO_free_all>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<&EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<&X509_free>>;
using req_ptr = std::unique_ptr<X509_REQ, deleter<&X509_REQ_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<&X509_EXTENSION_free>>;
using names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<&GENERAL_NAMES_free>>;
using exts_ptr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), deleter<+[](STACK_OF(X509_EXTENSION) * s) {
                      sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
                    }>>;

[[noreturn]] void fail(const std::string& what) {
  const unsigned long code = ERR_get_error();
  char text[256] = "";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  throw PkiError(code != 0 ? what + ": " + text : what);
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

bio_ptr memory_bio() {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!bio) fail("out of memory");
  return bio;
}

std::string private_pem(EVP_PKEY* key) {
  auto bio = memory_bio();
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    fail("cannot write private key");
  return drain(bio.get());
}

std::string public_pem(EVP_PKEY* key) {
  auto bio = memory_bio();
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) fail("cannot write public key");
  return drain(bio.get());
}

pkey_ptr generate_p256() {
  pkey_ptr key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate an EC P-256 key");
  return key;
}

bool is_ip_address(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

// "DNS:gw.example.com,IP:10.0.0.5"
std::string alt_names(const CertificateRequest& request) {
  std::string out;
  for (const std::string& name : request.names) {
    if (!out.empty()) out += ',';
    out += (is_ip_address(name) ? "IP:" : "DNS:") + name;
  }
  return out;
}

void set_subject(X509_NAME* name, const std::string& common_name) {
  const auto* cn = reinterpret_cast<const unsigned char*>(common_name.c_str());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, -1, -1, 0) != 1)
    fail("cannot set the subject to " + common_name);
}

ext_ptr extension(X509V3_CTX* ctx, int nid, const std::string& value) {
  ext_ptr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext) fail("cannot make certificate extension " + value);
  return ext;
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(time, &tm) != 1) fail("certificate has an unreadable date");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

}  // namespace

KeyPair generate_ed25519() {
  pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) fail("cannot generate an Ed25519 key");
  return {private_pem(key.get()), public_pem(key.get())};
}

std::string public_key_of(const std::string& pem) {
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("not a PEM private key");
  return public_pem(key.get());
}

CertificateAndKey make_self_signed(const CertificateRequest& request, const std::string& key_pem) {
  pkey_ptr key;
  if (key_pem.empty()) {
    key = generate_p256();
  } else {
    bio_ptr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) fail("not a PEM private key");
  }
  x509_ptr cert(X509_new());
  if (!cert) fail("out of memory");
  X509_set_version(cert.get(), 2);
  // A random 159-bit serial, as CAs must use.
  auto serial_bn = std::unique_ptr<BIGNUM, deleter<&BN_free>>(BN_new());
  if (!serial_bn || BN_rand(serial_bn.get(), 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
    fail("cannot make a serial number");
  BN_to_ASN1_INTEGER(serial_bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(request.days) * 86400);
  set_subject(X509_get_subject_name(cert.get()), request.common_name);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_set_pubkey(cert.get(), key.get());

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_subject_alt_name, alt_names(request)},
  };
  for (const auto& [nid, value] : extensions) {
    if (X509_add_ext(cert.get(), extension(&ctx, nid, value).get(), -1) != 1)
      fail("cannot add certificate extension " + value);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("cannot sign the certificate");

  auto bio = memory_bio();
  if (PEM_write_bio_X509(bio.get(), cert.get()) != 1) fail("cannot write the certificate");
  return {drain(bio.get()), private_pem(key.get())};
}

CertificateAndKey make_csr(const CertificateRequest& request) {
  pkey_ptr key = generate_p256();
  req_ptr req(X509_REQ_new());
  if (!req) fail("out of memory");
  X509_REQ_set_version(req.get(), 0);
  set_subject(X509_REQ_get_subject_name(req.get()), request.common_name);
  X509_REQ_set_pubkey(req.get(), key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, nullptr, req.get(), nullptr, 0);
  exts_ptr exts(sk_X509_EXTENSION_new_null());
  for (const auto& [nid, value] :
       {std::pair<int, std::string>{NID_subject_alt_name, alt_names(request)},
        std::pair<int, std::string>{NID_ext_key_usage, "serverAuth"}}) {
    sk_X509_EXTENSION_push(exts.get(), extension(&ctx, nid, value).release());
  }
  if (X509_REQ_add_extensions(req.get(), exts.get()) != 1) fail("cannot add the request's names");
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) == 0) fail("cannot sign the request");
  auto bio = memory_bio();
  if (PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) fail("cannot write the request");
  return {drain(bio.get()), private_pem(key.get())};
}

CertificateInfo read_certificate_file(const std::string& path) {
  bio_ptr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) fail("cannot read " + path);
  x509_ptr cert(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail(path + " holds no PEM certificate");
  CertificateInfo info;
  char subject[512] = "";
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof subject);
  info.subject = subject;
  info.not_before = to_time_point(X509_get0_notBefore(cert.get()));
  info.not_after = to_time_point(X509_get0_notAfter(cert.get()));
  info.self_signed =
      X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())) == 0;
  names_ptr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      const ASN1_IA5STRING* dns = name->d.dNSName;
      info.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                              static_cast<std::size_t>(ASN1_STRING_length(dns)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = "";
      const int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
      inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text);
      info.names.emplace_back(text);
    }
  }
  return info;
}

bool certificate_covers(const CertificateInfo& info, const std::string& name) {
  for (const std::string& entry : info.names) {
    if (entry == name) return true;
    if (entry.starts_with("*.")) {
      const auto dot = name.find('.');
      if (dot != std::string::npos && dot > 0 && name.substr(dot) == entry.substr(1)) return true;
    }
  }
  return false;
}

}  // namespace cgw::admin
