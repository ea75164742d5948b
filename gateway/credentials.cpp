#include "gateway/credentials.hpp"

#include "common/log.hpp"
#include "gateway/config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>

namespace cgw::gateway {
namespace {

namespace ssl = boost::asio::ssl;

constexpr log::Logger logger{"gateway"};

std::string origin_of(const Config& config) {
  return config.file.empty() ? "command line" : config.file;
}

token::Verifier make_verifier(const Config& config) {
  if (config.token_mode == TokenMode::plain) {
    logger.warn(
        "tokens.mode = \"plain\": tokens are unsigned and never expire; anyone who knows "
        "a host ID and a domain UUID can open its console");
    return token::Verifier::plain();
  }
  try {
    token::Policy policy;
    policy.audience = config.audience;
    policy.max_ttl = config.max_ttl;
    return token::Verifier(token::VerificationKey::load_file(config.token_key_file), policy);
  } catch (const token::KeyError& e) {
    throw ConfigError(origin_of(config) + ": tokens.key_file: " + e.what());
  }
}

std::shared_ptr<ssl_ctx_st> make_tls(const Config& config) {
  if (config.cert.empty()) return nullptr;
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use | ssl::context::no_compression);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  // TLS 1.2 only with forward secrecy and AEAD; TLS 1.3 suites are OpenSSL's defaults.
  SSL_CTX_set_cipher_list(ctx.native_handle(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION);
  // Idle TLS connections give their read and write buffers back.
  SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(config.cert, ec);
  if (ec) {
    throw ConfigError(origin_of(config) + ": gateway.cert: cannot load certificate chain from " +
                      config.cert + ": " + ec.message());
  }
  const std::string& key = config.key.empty() ? config.cert : config.key;
  ctx.use_private_key_file(key, ssl::context::pem, ec);
  if (ec) {
    throw ConfigError(origin_of(config) + ": gateway.key: cannot load private key from " + key +
                      ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw ConfigError(origin_of(config) + ": gateway.key: does not match gateway.cert");
  }
  // OpenSSL counts references to an SSL_CTX (each SSL holds one): take one for
  // the shared_ptr, so the context outlives Asio's wrapper and every connection
  // made with it, whichever ends last.
  SSL_CTX* handle = ctx.native_handle();
  SSL_CTX_up_ref(handle);
  return std::shared_ptr<ssl_ctx_st>(handle, SSL_CTX_free);
}

}  // namespace

std::shared_ptr<const Credentials> load_credentials(const Config& config) {
  // The certificate first: its errors are the likelier ones after an edit, and
  // the plain-mode warning is then logged only for a configuration that loads.
  auto tls = make_tls(config);
  return std::make_shared<const Credentials>(Credentials{make_verifier(config), std::move(tls)});
}

}  // namespace cgw::gateway
