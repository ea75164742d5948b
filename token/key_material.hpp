// What a key file becomes once loaded, shared by VerificationKey and SigningKey.
// Internal to cgw::token; tests include it to sign tokens with arbitrary content.
//
// KeyMaterial owns either an HS256 secret or an EVP_PKEY, never both, and the
// algorithm follows from the key's type alone: nothing a token says can change it.
// After loading it is only read, so any number of threads may verify with it.
#pragma once

#include "token/openssl_handles.hpp"
#include "token/token.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace cgw::token::detail {

// Bytes of an HS256 secret (or of a key file being parsed). Wiped when destroyed
// so they don't linger in freed heap memory. Move-only.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string bytes) noexcept : bytes_(std::move(bytes)) {}
  Secret(Secret&& other) noexcept : bytes_(std::exchange(other.bytes_, {})) {}
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  std::string_view view() const noexcept { return bytes_; }

 private:
  void wipe() noexcept;
  std::string bytes_;
};

struct KeyMaterial {
  Algorithm algorithm = Algorithm::hs256;
  Secret secret;  // hs256 only
  pkey_ptr pkey;  // es256, eddsa, rs256
  // hs256 only, optional: SHA-256 after the secret's inner and outer HMAC pads
  // (prepare_hmac), so that a MAC hashes only the message. Only read once made.
  md_ctx_ptr hmac_inner;
  md_ctx_ptr hmac_outer;
};

// Fills hmac_inner and hmac_outer from the secret; false if OpenSSL fails (the
// MAC is then computed from the secret each time).
bool prepare_hmac(KeyMaterial& key);

enum class KeyUse { verify, sign };

// Reads `path` and checks that it is usable for `use`: for verify a PEM public
// key or an HS256 secret, for sign a PEM private key or an HS256 secret.
// Throws KeyError whose text starts with the path.
KeyMaterial load_key_file(const std::string& path, KeyUse use);

// True when `signature` (raw JWS bytes; ES256 as R||S) signs `signing_input`
// ("<header>.<payload>" as sent) under `key`. HS256 is compared in constant time.
bool verify_signature(const KeyMaterial& key, std::string_view signing_input,
                      std::string_view signature);

// The JWS signature bytes for `signing_input`; ES256 as 64-byte R||S.
// Throws std::runtime_error when OpenSSL fails.
std::string create_signature(const KeyMaterial& key, std::string_view signing_input);

}  // namespace cgw::token::detail

namespace cgw::token {

struct VerificationKey::Impl {
  detail::KeyMaterial key;
};

struct SigningKey::Impl {
  detail::KeyMaterial key;
};

}  // namespace cgw::token
