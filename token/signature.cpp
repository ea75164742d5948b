#include "token/key_material.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <cstring>
#include <stdexcept>

namespace cgw::token::detail {
namespace {

// ES256 puts R and S side by side, each as a 32-byte big-endian integer
// (RFC 7518 section 3.4); OpenSSL speaks DER. This is the length for P-256.
constexpr int es256_half = 32;
constexpr std::size_t es256_size = 2 * es256_half;
constexpr std::size_t hs256_size = 32;
constexpr std::size_t eddsa_size = 64;

const unsigned char* bytes_of(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

// Clears this thread's OpenSSL error queue when a check or signing step ends,
// whichever way: a refused signature is a normal outcome, not an error to keep.
struct error_queue_guard {
  error_queue_guard() = default;
  error_queue_guard(const error_queue_guard&) = delete;
  error_queue_guard& operator=(const error_queue_guard&) = delete;
  ~error_queue_guard() { ERR_clear_error(); }
};

std::string raw_to_der(std::string_view raw) {
  ecdsa_sig_ptr sig(ECDSA_SIG_new());
  bignum_ptr r(BN_bin2bn(bytes_of(raw), es256_half, nullptr));
  bignum_ptr s(BN_bin2bn(bytes_of(raw) + es256_half, es256_half, nullptr));
  if (!sig || !r || !s) return {};
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return {};
  // ECDSA_SIG_set0 took ownership of both numbers.
  static_cast<void>(r.release());
  static_cast<void>(s.release());
  const int length = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (length <= 0) return {};
  std::string der(static_cast<std::size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != length) return {};
  return der;
}

std::string der_to_raw(std::string_view der) {
  const unsigned char* cursor = bytes_of(der);
  ecdsa_sig_ptr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) return {};
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(es256_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, es256_half) != es256_half ||
      BN_bn2binpad(s, out + es256_half, es256_half) != es256_half) {
    return {};
  }
  return raw;
}

// SHA-256 for ES256 and RS256; Ed25519 hashes internally and takes none.
const EVP_MD* digest_for(Algorithm alg) { return alg == Algorithm::eddsa ? nullptr : EVP_sha256(); }

bool digest_verify(const KeyMaterial& key, std::string_view input, std::string_view signature) {
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pkey_ctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pkey_ctx, digest_for(key.algorithm), nullptr,
                           key.pkey.get()) != 1) {
    return false;
  }
  // RS256 is PKCS#1 v1.5 by definition; say so rather than rely on the default.
  if (key.algorithm == Algorithm::rs256 &&
      EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), bytes_of(signature), signature.size(), bytes_of(input),
                          input.size()) == 1;
}

std::string digest_sign(const KeyMaterial& key, std::string_view input) {
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pkey_ctx = nullptr;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pkey_ctx, digest_for(key.algorithm), nullptr,
                                 key.pkey.get()) != 1) {
    return {};
  }
  if (key.algorithm == Algorithm::rs256 &&
      EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) != 1) {
    return {};
  }
  std::size_t length = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &length, bytes_of(input), input.size()) != 1) return {};
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     bytes_of(input), input.size()) != 1) {
    return {};
  }
  signature.resize(length);
  return signature;
}

// HMAC (RFC 2104) from the prepared pad states: H(K^opad || H(K^ipad || m)).
bool hmac_from_pads(const KeyMaterial& key, std::string_view input, unsigned char* mac) {
  const md_ctx_ptr ctx(EVP_MD_CTX_new());
  unsigned char inner[hs256_size];
  unsigned int length = 0;
  const bool ok = ctx && EVP_MD_CTX_copy_ex(ctx.get(), key.hmac_inner.get()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), input.data(), input.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), inner, &length) == 1 && length == hs256_size &&
                  EVP_MD_CTX_copy_ex(ctx.get(), key.hmac_outer.get()) == 1 &&
                  EVP_DigestUpdate(ctx.get(), inner, sizeof inner) == 1 &&
                  EVP_DigestFinal_ex(ctx.get(), mac, &length) == 1 && length == hs256_size;
  OPENSSL_cleanse(inner, sizeof inner);
  return ok;
}

std::string hmac_sha256(const KeyMaterial& key, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (key.hmac_inner && key.hmac_outer) {
    if (!hmac_from_pads(key, input, mac)) return {};
    length = hs256_size;
  } else {
    const auto secret = key.secret.view();
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes_of(input),
             input.size(), mac, &length) == nullptr) {
      return {};
    }
  }
  std::string out(reinterpret_cast<const char*>(mac), length);
  OPENSSL_cleanse(mac, sizeof mac);
  return out;
}

}  // namespace

bool prepare_hmac(KeyMaterial& key) {
  const error_queue_guard guard;
  constexpr std::size_t block = 64;  // SHA-256's block size
  // A secret longer than a block is hashed first (RFC 2104); a shorter one is
  // padded with zeros.
  unsigned char padded[block] = {};
  const auto secret = key.secret.view();
  bool ok = true;
  if (secret.size() > block) {
    unsigned int length = 0;
    ok = EVP_Digest(secret.data(), secret.size(), padded, &length, EVP_sha256(), nullptr) == 1;
  } else {
    std::memcpy(padded, secret.data(), secret.size());
  }
  const auto pad_state = [&padded](unsigned char pad) {
    unsigned char bytes[block];
    for (std::size_t i = 0; i < block; ++i) bytes[i] = static_cast<unsigned char>(padded[i] ^ pad);
    md_ctx_ptr ctx(EVP_MD_CTX_new());
    const bool made = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
                      EVP_DigestUpdate(ctx.get(), bytes, block) == 1;
    OPENSSL_cleanse(bytes, sizeof bytes);
    return made ? std::move(ctx) : md_ctx_ptr();
  };
  md_ctx_ptr inner = ok ? pad_state(0x36) : md_ctx_ptr();
  md_ctx_ptr outer = ok ? pad_state(0x5c) : md_ctx_ptr();
  OPENSSL_cleanse(padded, sizeof padded);
  if (!inner || !outer) return false;
  key.hmac_inner = std::move(inner);
  key.hmac_outer = std::move(outer);
  return true;
}

bool verify_signature(const KeyMaterial& key, std::string_view signing_input,
                      std::string_view signature) {
  const error_queue_guard guard;
  switch (key.algorithm) {
    case Algorithm::hs256: {
      if (signature.size() != hs256_size) return false;
      const auto expected = hmac_sha256(key, signing_input);
      if (expected.size() != hs256_size) return false;
      // A byte-by-byte compare that stops early would tell an attacker, by
      // timing, how much of a forged MAC was right.
      return CRYPTO_memcmp(expected.data(), signature.data(), hs256_size) == 0;
    }
    case Algorithm::es256: {
      // Only the JWS form is accepted: a DER signature is a different encoding
      // that other verifiers refuse, so accepting it would split behaviour.
      if (signature.size() != es256_size) return false;
      const auto der = raw_to_der(signature);
      return !der.empty() && digest_verify(key, signing_input, der);
    }
    case Algorithm::eddsa:
      if (signature.size() != eddsa_size) return false;
      return digest_verify(key, signing_input, signature);
    case Algorithm::rs256: {
      const int size = EVP_PKEY_get_size(key.pkey.get());
      if (size <= 0 || signature.size() != static_cast<std::size_t>(size)) return false;
      return digest_verify(key, signing_input, signature);
    }
  }
  return false;
}

std::string create_signature(const KeyMaterial& key, std::string_view signing_input) {
  const error_queue_guard guard;
  std::string signature;
  switch (key.algorithm) {
    case Algorithm::hs256:
      signature = hmac_sha256(key, signing_input);
      break;
    case Algorithm::es256:
      signature = der_to_raw(digest_sign(key, signing_input));
      break;
    case Algorithm::eddsa:
    case Algorithm::rs256:
      signature = digest_sign(key, signing_input);
      break;
  }
  if (signature.empty()) throw std::runtime_error("signing the token failed in OpenSSL");
  return signature;
}

}  // namespace cgw::token::detail
