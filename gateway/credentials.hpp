// Credentials: what a reload (SIGHUP) replaces while the gateway serves — the
// token verifier (key and policy) and the TLS context (certificate and key).
//
// A session takes the current Credentials once, when it begins, and keeps them
// to its end: a reload changes what new connections get (their TLS handshake,
// their token check), never an established session.
#pragma once

#include "token/token.hpp"

#include <atomic>
#include <memory>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX

namespace cgw::gateway {

struct Config;

struct Credentials {
  token::Verifier verifier;
  std::shared_ptr<ssl_ctx_st> tls;  // null without a certificate
};

// Loads the token key and the certificate that `config` names. Throws
// ConfigError with one line naming the file, the key and the problem.
std::shared_ptr<const Credentials> load_credentials(const Config& config);

// The Credentials new sessions get. Any thread may read or replace them.
class CurrentCredentials {
 public:
  explicit CurrentCredentials(std::shared_ptr<const Credentials> initial)
      : current_(std::move(initial)) {}
  std::shared_ptr<const Credentials> get() const { return current_.load(); }
  void replace(std::shared_ptr<const Credentials> next) { current_.store(std::move(next)); }

 private:
  std::atomic<std::shared_ptr<const Credentials>> current_;
};

}  // namespace cgw::gateway
