#include "tests/token/support.hpp"

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <sys/wait.h>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "token/key_material.hpp"

namespace cgw::token::test {
namespace {

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free_all(bio); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

void check(bool ok, const char* what) {
  if (!ok) {
    ERR_print_errors_fp(stderr);
    throw std::runtime_error(what);
  }
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "cgw-token-XXXXXX").string();
  check(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

std::string write_file(const std::string& path, std::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  check(out.good(), "write_file");
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "read_file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Pkey generate_ec(const char* curve) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  check(key != nullptr, "EC keygen");
  return key;
}

Pkey generate_ed25519() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  check(key != nullptr, "Ed25519 keygen");
  return key;
}

Pkey generate_ed448() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  check(key != nullptr, "Ed448 keygen");
  return key;
}

Pkey generate_rsa(unsigned bits) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
  check(key != nullptr, "RSA keygen");
  return key;
}

KeyFiles write_key_pair(const TempDir& dir, std::string_view name, EVP_PKEY* key) {
  KeyFiles files{dir.file(std::string(name) + ".key"), dir.file(std::string(name) + ".pub")};
  Bio private_out(BIO_new_file(files.private_pem.c_str(), "w"));
  check(private_out && PEM_write_bio_PrivateKey(private_out.get(), key, nullptr, nullptr, 0,
                                                nullptr, nullptr) == 1,
        "write private key");
  Bio public_out(BIO_new_file(files.public_pem.c_str(), "w"));
  check(public_out && PEM_write_bio_PUBKEY(public_out.get(), key) == 1, "write public key");
  return files;
}

const SharedKeys& shared_keys() {
  static const SharedKeys keys = [] {
    SharedKeys made;
    // The documented recipe: 32 random bytes, base64; the text is the secret.
    unsigned char raw[32];
    std::FILE* urandom = std::fopen("/dev/urandom", "rb");
    check(urandom && std::fread(raw, 1, sizeof raw, urandom) == sizeof raw, "urandom");
    std::fclose(urandom);
    std::string encoded(64, '\0');
    const int length =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()), raw, sizeof raw);
    encoded.resize(static_cast<std::size_t>(length));
    made.hs256_secret = encoded;
    made.hs256_secret_file = write_file(made.dir.file("hs256.secret"), encoded + "\n");
    made.es256 = write_key_pair(made.dir, "es256", generate_ec("P-256").get());
    made.eddsa = write_key_pair(made.dir, "ed25519", generate_ed25519().get());
    made.rs256 = write_key_pair(made.dir, "rsa2048", generate_rsa(2048).get());
    return made;
  }();
  return keys;
}

std::string b64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(length));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string hmac_sha256(std::string_view secret, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  check(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
             &length) != nullptr,
        "HMAC");
  return std::string(reinterpret_cast<const char*>(mac), length);
}

std::string ecdsa_der_signature(const std::string& private_pem, std::string_view data) {
  Bio in(BIO_new_file(private_pem.c_str(), "r"));
  check(in != nullptr, "open private key");
  Pkey key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
  check(key != nullptr, "read private key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  check(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1,
        "DigestSignInit");
  std::size_t length = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  check(EVP_DigestSign(ctx.get(), nullptr, &length, bytes, data.size()) == 1, "DigestSign");
  std::string signature(length, '\0');
  check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                       bytes, data.size()) == 1,
        "DigestSign");
  signature.resize(length);
  return signature;
}

std::string signing_input(std::string_view header_json, std::string_view payload_json) {
  return b64url(header_json) + "." + b64url(payload_json);
}

std::string hs256_token(std::string_view secret, std::string_view header_json,
                        std::string_view payload_json) {
  const auto input = signing_input(header_json, payload_json);
  return input + "." + b64url(hmac_sha256(secret, input));
}

std::string signed_token(const SigningKey& key, std::string_view header_json,
                         std::string_view payload_json) {
  const auto input = signing_input(header_json, payload_json);
  return input + "." + b64url(detail::create_signature(key.impl().key, input));
}

std::string algorithm_test_name(const testing::TestParamInfo<Algorithm>& param) {
  return std::string(algorithm_name(param.param));
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, got);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool is_executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string shell_quote(std::string_view text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace cgw::token::test

namespace cgw::token {
void PrintTo(Algorithm alg, std::ostream* out) { *out << algorithm_name(alg); }
}  // namespace cgw::token
