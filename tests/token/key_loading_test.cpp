// Loading key files: which files each key type accepts, and that every refusal
// names the file and says what is wrong with it.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "tests/token/support.hpp"
#include "token/token.hpp"

namespace cgw::token {
namespace {

using test::shared_keys;
using test::TempDir;
using test::write_file;

// The KeyError text for loading `path`, or "" when it loads.
template <class Key>
std::string load_error(const std::string& path) {
  try {
    Key::load_file(path);
  } catch (const KeyError& error) {
    return error.what();
  }
  return {};
}

TEST(VerificationKeyLoad, TypeDecidesAlgorithm) {
  const auto& keys = shared_keys();
  EXPECT_EQ(VerificationKey::load_file(keys.hs256_secret_file).algorithm(), Algorithm::hs256);
  EXPECT_EQ(VerificationKey::load_file(keys.es256.public_pem).algorithm(), Algorithm::es256);
  EXPECT_EQ(VerificationKey::load_file(keys.eddsa.public_pem).algorithm(), Algorithm::eddsa);
  EXPECT_EQ(VerificationKey::load_file(keys.rs256.public_pem).algorithm(), Algorithm::rs256);
}

TEST(SigningKeyLoad, TypeDecidesAlgorithm) {
  const auto& keys = shared_keys();
  EXPECT_EQ(SigningKey::load_file(keys.hs256_secret_file).algorithm(), Algorithm::hs256);
  EXPECT_EQ(SigningKey::load_file(keys.es256.private_pem).algorithm(), Algorithm::es256);
  EXPECT_EQ(SigningKey::load_file(keys.eddsa.private_pem).algorithm(), Algorithm::eddsa);
  EXPECT_EQ(SigningKey::load_file(keys.rs256.private_pem).algorithm(), Algorithm::rs256);
}

TEST(VerificationKeyLoad, PrivateKeyRefusedWithAdvice) {
  const auto& keys = shared_keys();
  for (const auto& path :
       {keys.es256.private_pem, keys.eddsa.private_pem, keys.rs256.private_pem}) {
    const auto error = load_error<VerificationKey>(path);
    EXPECT_EQ(error, path +
                         ": is a private key; give the gateway the public key instead "
                         "(openssl pkey -in " +
                         path + " -pubout)");
  }
}

TEST(VerificationKeyLoad, TraditionalPrivateKeyRefused) {
  TempDir dir;
  const auto key = test::generate_ec("P-256");
  const auto path = dir.file("traditional.pem");
  std::unique_ptr<BIO, decltype(&BIO_free_all)> out(BIO_new_file(path.c_str(), "w"), &BIO_free_all);
  ASSERT_EQ(PEM_write_bio_PrivateKey_traditional(out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                                 nullptr),
            1);
  out.reset();
  ASSERT_NE(test::read_file(path).find("BEGIN EC PRIVATE KEY"), std::string::npos);
  EXPECT_NE(load_error<VerificationKey>(path).find("is a private key"), std::string::npos);
  EXPECT_EQ(SigningKey::load_file(path).algorithm(), Algorithm::es256);
}

TEST(VerificationKeyLoad, ShortSecretRefused) {
  TempDir dir;
  const auto path = write_file(dir.file("short"), "  twelve bytes  \n");
  const auto expected = path + ": HS256 secret is 12 bytes; at least 32 are needed";
  EXPECT_EQ(load_error<VerificationKey>(path), expected);
  EXPECT_EQ(load_error<SigningKey>(path), expected);
}

TEST(VerificationKeyLoad, EmptySecretRefused) {
  TempDir dir;
  const auto path = write_file(dir.file("empty"), " \n\t\r\n");
  EXPECT_EQ(load_error<VerificationKey>(path),
            path + ": HS256 secret is 0 bytes; at least 32 are needed");
}

TEST(VerificationKeyLoad, SecretIsTrimmedBeforeCounting) {
  TempDir dir;
  const std::string secret(32, 'k');
  EXPECT_EQ(load_error<VerificationKey>(write_file(dir.file("ok"), "\n\t " + secret + " \r\n")),
            "");
  EXPECT_NE(load_error<VerificationKey>(
                write_file(dir.file("short"), " " + secret.substr(1) + std::string(8, ' '))),
            "");
}

TEST(VerificationKeyLoad, SmallRsaKeyRefused) {
  TempDir dir;
  const auto files = test::write_key_pair(dir, "rsa1024", test::generate_rsa(1024).get());
  EXPECT_EQ(load_error<VerificationKey>(files.public_pem),
            files.public_pem + ": RSA key is 1024 bits; at least 2048 are needed");
  EXPECT_EQ(load_error<SigningKey>(files.private_pem),
            files.private_pem + ": RSA key is 1024 bits; at least 2048 are needed");
}

TEST(VerificationKeyLoad, OtherCurvesAndTypesRefused) {
  TempDir dir;
  const auto p384 = test::write_key_pair(dir, "p384", test::generate_ec("P-384").get());
  EXPECT_EQ(load_error<VerificationKey>(p384.public_pem),
            p384.public_pem + ": EC key on curve secp384r1; only P-256 (ES256) is supported");
  EXPECT_NE(load_error<SigningKey>(p384.private_pem).find("only P-256"), std::string::npos);
  const auto ed448 = test::write_key_pair(dir, "ed448", test::generate_ed448().get());
  EXPECT_EQ(load_error<VerificationKey>(ed448.public_pem),
            ed448.public_pem + ": unsupported key type ED448; use EC P-256, Ed25519 or RSA");
}

TEST(VerificationKeyLoad, MissingFileNamed) {
  const std::string path = "/nonexistent/console-gw/token.key";
  EXPECT_EQ(load_error<VerificationKey>(path),
            path + ": cannot open key file: No such file or directory");
  EXPECT_EQ(load_error<SigningKey>(path),
            path + ": cannot open key file: No such file or directory");
}

TEST(VerificationKeyLoad, DirectoryRefused) {
  TempDir dir;
  EXPECT_EQ(load_error<VerificationKey>(dir.path().string()).rfind(dir.path().string() + ": ", 0),
            0u);
}

TEST(VerificationKeyLoad, GarbagePemRefused) {
  TempDir dir;
  const auto path = write_file(dir.file("garbage.pem"),
                               "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n"
                               "-----END PUBLIC KEY-----\n");
  EXPECT_EQ(load_error<VerificationKey>(path), path + ": not a valid PEM public key");
  const auto private_path = write_file(dir.file("garbage.key"),
                                       "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n"
                                       "-----END PRIVATE KEY-----\n");
  EXPECT_EQ(load_error<SigningKey>(private_path), private_path + ": not a valid PEM private key");
}

TEST(VerificationKeyLoad, OtherPemBlocksRefused) {
  TempDir dir;
  const auto cert = write_file(dir.file("cert.pem"),
                               "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_NE(load_error<VerificationKey>(cert).find("is a certificate; give its public key"),
            std::string::npos);
  const auto pkcs1 =
      write_file(dir.file("pkcs1.pem"),
                 "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n");
  EXPECT_NE(load_error<VerificationKey>(pkcs1).find("PKCS#1"), std::string::npos);
}

TEST(VerificationKeyLoad, DerKeyNotTakenForSecret) {
  // A DER public key is long enough to pass as an HS256 secret; taking it as one
  // would let anyone holding the public key mint tokens.
  TempDir dir;
  const auto key = test::generate_ec("P-256");
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key.get(), &der);
  ASSERT_GT(length, 32);
  const auto path =
      write_file(dir.file("public.der"), std::string(reinterpret_cast<char*>(der), length));
  OPENSSL_free(der);
  EXPECT_NE(load_error<VerificationKey>(path).find("looks like a DER-encoded key"),
            std::string::npos);
}

TEST(VerificationKeyLoad, OpenSshKeyNotTakenForSecret) {
  TempDir dir;
  const auto path = write_file(
      dir.file("id_ed25519.pub"),
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHl4ZtL4cQ0m4ZrN8lqP7h2YpOZbZQ9gq1Jk1dXo2sAa me@host\n");
  EXPECT_NE(load_error<VerificationKey>(path).find("looks like an OpenSSH key"), std::string::npos);
}

TEST(SigningKeyLoad, PublicKeyRefused) {
  const auto& keys = shared_keys();
  EXPECT_EQ(load_error<SigningKey>(keys.es256.public_pem),
            keys.es256.public_pem + ": is a public key; signing tokens needs the private key");
}

TEST(SigningKeyLoad, EncryptedKeyRefusedWithoutPrompt) {
  TempDir dir;
  const auto key = test::generate_ed25519();
  const auto path = dir.file("encrypted.pem");
  std::unique_ptr<BIO, decltype(&BIO_free_all)> out(BIO_new_file(path.c_str(), "w"), &BIO_free_all);
  char pass[] = "correct horse";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), EVP_aes_256_cbc(), pass,
                                          sizeof pass - 1, nullptr, nullptr),
            1);
  out.reset();
  EXPECT_NE(load_error<SigningKey>(path).find("private key is encrypted"), std::string::npos);
  EXPECT_NE(load_error<VerificationKey>(path).find("is a private key"), std::string::npos);
}

TEST(SigningKeyLoad, MovedKeyStillSigns) {
  auto key = SigningKey::load_file(shared_keys().eddsa.private_pem);
  SigningKey moved = std::move(key);
  MintRequest request;
  request.host_id = "h";
  request.uuid = std::string(test::test_uuid);
  EXPECT_FALSE(mint(moved, request).empty());
}

}  // namespace
}  // namespace cgw::token
