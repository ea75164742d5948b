// ClientContext: the gateway's TLS settings as a client of consoles (VNC
// VeNCrypt X.509 to QEMU, SPICE's tls-port), loaded once and shared by every
// TlsClientStream made from it.
//
// It trusts the configured CA file and nothing else (not the system store):
// console certificates are issued by the virtualisation platform's own CA.
// TLS 1.2 at least, forward secrecy and AEAD only, no compression, no
// renegotiation, the peer's certificate always verified. A client certificate
// is optional; QEMU with vnc_tls_x509_verify=1 and SPICE ask for one.
//
// Immutable once loaded: any thread may make streams from it at the same time.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>

namespace cgw::console_tls {

struct TlsClientSettings {
  std::string ca_file;    // PEM, one or more CA certificates: the only trust anchors
  std::string cert_file;  // PEM, the gateway's client certificate (and chain); optional
  std::string key_file;   // PEM, its private key; empty: read from cert_file
};

class ClientContext {
 public:
  // Throws std::runtime_error with a sentence naming the setting, the file and
  // the problem, e.g. "console_ca /etc/pki/ca.pem: no certificate in file".
  static std::shared_ptr<const ClientContext> load(const TlsClientSettings& settings);

  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  // For SSL_new(); OpenSSL counts its own references to it.
  SSL_CTX* native_handle() const noexcept { return ctx_; }

 private:
  explicit ClientContext(SSL_CTX* ctx) noexcept : ctx_(ctx) {}

  SSL_CTX* ctx_;
};

}  // namespace cgw::console_tls
