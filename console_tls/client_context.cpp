#include "console_tls/client_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace cgw::console_tls {

namespace {

struct CtxFree {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

using Bio = std::unique_ptr<BIO, BioFree>;

// OpenSSL's words for its last error ("no start line", "bad decrypt"), and the
// error queue emptied so that it does not leak into the next call.
std::string openssl_reason() {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : "unknown error";
}

[[noreturn]] void fail(const char* setting, const std::string& file, const std::string& problem) {
  throw std::runtime_error(std::string(setting) + " " + file + ": " + problem);
}

// Opened here rather than by OpenSSL so that a missing or unreadable file is
// told as such, not as a parse error.
Bio open_file(const char* setting, const std::string& file) {
  errno = 0;
  Bio in(BIO_new_file(file.c_str(), "r"));
  if (!in) {
    const int error = errno;
    ERR_clear_error();
    fail(setting, file, std::string("cannot open (") + (error ? std::strerror(error) : "?") + ")");
  }
  return in;
}

// A key protected by a passphrase cannot be used unattended; without this,
// OpenSSL would ask for the passphrase on the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

// The PEM reader's "no start line" at the end of the input is how it says
// "no more"; anything else is a broken file.
bool ended_cleanly() {
  const unsigned long e = ERR_peek_last_error();
  return e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE);
}

// Whether the file holds a PEM block whose label contains `label` ("CERTIFICATE",
// "PRIVATE KEY"): tells "nothing of the kind here" from a broken block, which
// OpenSSL's loaders report alike.
bool has_pem_block(const char* setting, const std::string& file, const std::string& label) {
  Bio in = open_file(setting, file);
  bool found = false;
  for (;;) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    if (PEM_read_bio(in.get(), &name, &header, &data, &length) != 1) break;
    found = found || std::string(name).find(label) != std::string::npos;
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
  }
  ERR_clear_error();
  return found;
}

void load_trust_anchors(SSL_CTX* ctx, const std::string& file) {
  // Only these: the context starts with an empty store, and the system's
  // default paths are never added.
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  Bio in = open_file("console_ca", file);
  int count = 0;
  ERR_clear_error();
  for (;;) {
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      fail("console_ca", file, "cannot use certificate (" + openssl_reason() + ")");
    }
    ++count;
  }
  if (!ended_cleanly())
    fail("console_ca", file, "unreadable certificate (" + openssl_reason() + ")");
  ERR_clear_error();
  if (count == 0) fail("console_ca", file, "no certificate in file");
}

void load_client_identity(SSL_CTX* ctx, const TlsClientSettings& settings) {
  const std::string& cert = settings.cert_file;
  const std::string& key_file = settings.key_file.empty() ? cert : settings.key_file;
  if (!has_pem_block("console_cert", cert, "CERTIFICATE")) {
    fail("console_cert", cert, "no certificate in file");
  }
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    fail("console_cert", cert, "cannot load certificate (" + openssl_reason() + ")");
  }

  if (!has_pem_block("console_key", key_file, "PRIVATE KEY")) {
    fail("console_key", key_file, "no private key in file");
  }
  Bio in = open_file("console_key", key_file);
  ERR_clear_error();
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, no_passphrase, nullptr));
  if (!key) fail("console_key", key_file, "cannot load private key (" + openssl_reason() + ")");
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key.get()) != 1) {
    ERR_clear_error();
    fail("console_key", key_file, "does not match console_cert " + cert);
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    fail("console_key", key_file, "cannot use private key (" + openssl_reason() + ")");
  }
}

}  // namespace

std::shared_ptr<const ClientContext> ClientContext::load(const TlsClientSettings& settings) {
  if (settings.ca_file.empty()) {
    throw std::runtime_error("console_ca: not set (the CA that issued the consoles' certificates)");
  }
  if (settings.cert_file.empty() && !settings.key_file.empty()) {
    throw std::runtime_error("console_key " + settings.key_file + ": set without console_cert");
  }
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx)
    throw std::runtime_error("console TLS: cannot create context (" + openssl_reason() + ")");
  SSL_CTX* c = ctx.get();

  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  // TLS 1.2 only with forward secrecy and AEAD; TLS 1.3 suites are all AEAD
  // (OpenSSL's defaults).
  if (SSL_CTX_set_cipher_list(c,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    throw std::runtime_error("console TLS: cipher list refused (" + openssl_reason() + ")");
  }
  // Each console connection is a full handshake: no tickets asked for, no
  // session kept, no compression, no renegotiation.
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  // Idle connections give their record buffers back.
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);

  load_trust_anchors(c, settings.ca_file);
  if (!settings.cert_file.empty()) load_client_identity(c, settings);
  return std::shared_ptr<const ClientContext>(new ClientContext(ctx.release()));
}

ClientContext::~ClientContext() { SSL_CTX_free(ctx_); }

}  // namespace cgw::console_tls
