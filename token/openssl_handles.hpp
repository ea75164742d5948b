// Owning handles for the OpenSSL objects the token component uses. Each is a
// std::unique_ptr whose deleter is the matching OpenSSL free function, so every
// early return releases what was allocated. Move-only, like what they wrap.
// Internal to cgw::token (tests may use it too).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <memory>

namespace cgw::token::detail {

template <auto Free>
struct openssl_deleter {
  template <class T>
  void operator()(T* handle) const noexcept {
    Free(handle);
  }
};

using bio_ptr = std::unique_ptr<BIO, openssl_deleter<&BIO_free_all>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<&EVP_PKEY_free>>;
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, openssl_deleter<&EVP_MD_CTX_free>>;
using ecdsa_sig_ptr = std::unique_ptr<ECDSA_SIG, openssl_deleter<&ECDSA_SIG_free>>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_deleter<&BN_free>>;

}  // namespace cgw::token::detail
