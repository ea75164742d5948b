#include "rfb/vnc_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>

namespace cgw::rfb {
namespace {

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
struct CipherFree {
  void operator()(EVP_CIPHER* cipher) const noexcept { EVP_CIPHER_free(cipher); }
};

std::uint8_t reverse_bits(std::uint8_t b) {
  b = static_cast<std::uint8_t>((b & 0xF0) >> 4 | (b & 0x0F) << 4);
  b = static_cast<std::uint8_t>((b & 0xCC) >> 2 | (b & 0x33) << 2);
  b = static_cast<std::uint8_t>((b & 0xAA) >> 1 | (b & 0x55) << 1);
  return b;
}

}  // namespace

std::optional<std::array<std::uint8_t, vnc_challenge_size>> vnc_auth_response(
    std::string_view password, std::span<const std::uint8_t, vnc_challenge_size> challenge) {
  // K1 = K2 = K3: the 8-byte DES key three times.
  std::array<std::uint8_t, 24> key{};
  for (std::size_t i = 0; i < 8; ++i) {
    const std::uint8_t b = i < password.size() ? static_cast<std::uint8_t>(password[i]) : 0;
    key[i] = key[i + 8] = key[i + 16] = reverse_bits(b);
  }
  std::unique_ptr<EVP_CIPHER, CipherFree> cipher(
      EVP_CIPHER_fetch(nullptr, "DES-EDE3-ECB", nullptr));
  std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree> ctx(EVP_CIPHER_CTX_new());
  std::array<std::uint8_t, vnc_challenge_size> out{};
  int written = 0;
  int final_written = 0;
  const bool ok = cipher && ctx &&
                  EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data(), nullptr, nullptr) == 1 &&
                  EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
                  EVP_EncryptUpdate(ctx.get(), out.data(), &written, challenge.data(),
                                    static_cast<int>(challenge.size())) == 1 &&
                  EVP_EncryptFinal_ex(ctx.get(), out.data() + written, &final_written) == 1 &&
                  written + final_written == static_cast<int>(out.size());
  OPENSSL_cleanse(key.data(), key.size());
  if (!ok) return std::nullopt;
  return out;
}

}  // namespace cgw::rfb
