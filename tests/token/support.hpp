// Helpers for the token tests: a scratch directory, keys generated at run time
// (no private key is ever committed), and an independent way to assemble and
// sign compact JWS so that tests don't check the component against itself.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "token/token.hpp"

namespace cgw::token::test {

// A fresh directory under the system temp dir, removed with its contents when
// the object goes. Move-only.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string write_file(const std::string& path, std::string_view contents);
std::string read_file(const std::string& path);

struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey generate_ec(const char* curve);
Pkey generate_ed25519();
Pkey generate_ed448();
Pkey generate_rsa(unsigned bits);

struct KeyFiles {
  std::string private_pem;  // PKCS#8 "PRIVATE KEY"
  std::string public_pem;   // SubjectPublicKeyInfo "PUBLIC KEY"
};
KeyFiles write_key_pair(const TempDir& dir, std::string_view name, EVP_PKEY* key);

// The keys most tests share, made once per run.
struct SharedKeys {
  TempDir dir;
  std::string hs256_secret;       // the secret as the file holds it, trimmed
  std::string hs256_secret_file;  // the secret plus a trailing newline
  KeyFiles es256;
  KeyFiles eddsa;
  KeyFiles rs256;
};
const SharedKeys& shared_keys();

// Unpadded base64url by way of OpenSSL's plain base64, not cgw's encoder.
std::string b64url(std::string_view bytes);
std::string hmac_sha256(std::string_view secret, std::string_view data);
// ECDSA P-256 over SHA-256 as OpenSSL returns it: DER, not JWS R||S.
std::string ecdsa_der_signature(const std::string& private_pem, std::string_view data);

// "<b64url(header)>.<b64url(payload)>"
std::string signing_input(std::string_view header_json, std::string_view payload_json);
// A compact JWS over the given JSON texts, HS256-signed with `secret`.
std::string hs256_token(std::string_view secret, std::string_view header_json,
                        std::string_view payload_json);
// A compact JWS over the given JSON texts, signed by cgw's SigningKey.
std::string signed_token(const SigningKey& key, std::string_view header_json,
                         std::string_view payload_json);

// Names parameterised tests after the JWS algorithm ("HS256", "EdDSA", ...).
std::string algorithm_test_name(const testing::TestParamInfo<Algorithm>& param);

// Runs a shell command; returns its exit status and standard output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);
bool is_executable(const std::string& path);
std::string shell_quote(std::string_view text);

constexpr std::string_view test_uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
// A fixed "now" so expiry arithmetic in the tests is exact.
inline std::chrono::system_clock::time_point fixed_now() {
  return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
}
constexpr long long fixed_now_seconds = 1'800'000'000;

}  // namespace cgw::token::test

namespace cgw::token {
// Lets GoogleTest print an Algorithm as its JWS name instead of raw bytes.
void PrintTo(Algorithm alg, std::ostream* out);
}  // namespace cgw::token
