// Tokens made by other implementations verify, and ours verify elsewhere: the
// documented Python standard-library minter, the openssl command line, and PyJWT.
// A test skips when its tool is missing rather than pass without checking.
#include <gtest/gtest.h>

#include <string>

#include "tests/token/support.hpp"
#include "token/token.hpp"

namespace cgw::token {
namespace {

using namespace std::chrono_literals;
using test::run_command;
using test::shell_quote;

const std::string python = CGW_TEST_PYTHON;
const std::string openssl_cli = CGW_TEST_OPENSSL;
const std::string test_dir = CGW_TEST_DIR;
const std::string docs_dir = CGW_TEST_DOCS_DIR;

constexpr int exit_skip = 77;

std::string trim_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

TEST(Interop, PythonStandardLibraryHs256) {
  if (!test::is_executable(python)) GTEST_SKIP() << python << " not found";
  const auto& keys = test::shared_keys();
  const auto minted = run_command(
      shell_quote(python) + " " + shell_quote(test_dir + "/mint_hs256.py") + " --secret-file " +
      shell_quote(keys.hs256_secret_file) + " --host kvm_01 --uuid " +
      "0F8FAD5B-D9CB-469F-A165-70867728950E --console spice --audience gw-a --ttl 120");
  ASSERT_EQ(minted.status, 0);
  Policy policy;
  policy.audience = "gw-a";
  const Verifier verifier(VerificationKey::load_file(keys.hs256_secret_file), policy);
  const auto now = std::chrono::system_clock::now();
  const auto result = verifier.verify(trim_newline(minted.output), now);
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_EQ(result.claims->host_id, "kvm_01");
  EXPECT_EQ(result.claims->uuid, test::test_uuid);
  EXPECT_EQ(result.claims->console, ConsoleKind::spice);
  EXPECT_GT(*result.claims->expires, now + 110s);
  EXPECT_LT(*result.claims->expires, now + 130s);
}

TEST(Interop, DocsShowTheTestedMinter) {
  // docs/tokens.md tells web UI authors to copy this code; it must be the code
  // the test above runs.
  const auto script = test::read_file(test_dir + "/mint_hs256.py");
  const auto docs = test::read_file(docs_dir + "/tokens.md");
  EXPECT_NE(docs.find("```python\n" + script + "```"), std::string::npos)
      << "docs/tokens.md must quote tests/token/mint_hs256.py verbatim";
}

class OpensslCli : public testing::Test {
 protected:
  void SetUp() override {
    if (!test::is_executable(openssl_cli)) GTEST_SKIP() << "openssl command not found";
  }

  // Runs `openssl <arguments>` and fails the test when it fails.
  void openssl(const std::string& arguments) {
    const auto result = run_command(shell_quote(openssl_cli) + " " + arguments + " 2>&1");
    ASSERT_EQ(result.status, 0) << "openssl " << arguments << "\n" << result.output;
  }

  // Writes the signing input for a token with `alg` to input_path() and returns it.
  std::string write_signing_input(std::string_view alg) {
    const auto input =
        test::signing_input(R"({"alg":")" + std::string(alg) + R"(","typ":"JWT"})",
                            R"({"sub":"kvm_01-)" + std::string(test::test_uuid) + R"(","exp":)" +
                                std::to_string(now_seconds() + 60) + "}");
    test::write_file(dir_.file("input"), input);
    return input;
  }

  std::string input_path() const { return shell_quote(dir_.file("input")); }
  std::string signature_path() const { return shell_quote(dir_.file("signature")); }
  std::string with_signature(const std::string& input) const {
    return input + "." + test::b64url(test::read_file(dir_.file("signature")));
  }

  static long long now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  void expect_verifies(const std::string& public_pem, const std::string& token) {
    const Verifier verifier(VerificationKey::load_file(public_pem), Policy{});
    const auto result = verifier.verify(token, std::chrono::system_clock::now());
    ASSERT_TRUE(result) << result.rejection.reason;
    EXPECT_EQ(result.claims->host_id, "kvm_01");
  }

  test::TempDir dir_;
};

TEST_F(OpensslCli, Ed25519SignedByPkeyutl) {
  const auto private_pem = dir_.file("ed25519.pem");
  const auto public_pem = dir_.file("ed25519.pub.pem");
  // The key commands from docs/tokens.md.
  openssl("genpkey -algorithm ed25519 -out " + shell_quote(private_pem));
  openssl("pkey -in " + shell_quote(private_pem) + " -pubout -out " + shell_quote(public_pem));
  EXPECT_EQ(VerificationKey::load_file(public_pem).algorithm(), Algorithm::eddsa);
  const auto input = write_signing_input("EdDSA");
  openssl("pkeyutl -sign -rawin -inkey " + shell_quote(private_pem) + " -in " + input_path() +
          " -out " + signature_path());
  expect_verifies(public_pem, with_signature(input));
}

TEST_F(OpensslCli, Rs256SignedByDgst) {
  const auto private_pem = dir_.file("rsa.pem");
  const auto public_pem = dir_.file("rsa.pub.pem");
  openssl("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + shell_quote(private_pem));
  openssl("pkey -in " + shell_quote(private_pem) + " -pubout -out " + shell_quote(public_pem));
  const auto input = write_signing_input("RS256");
  openssl("dgst -sha256 -sign " + shell_quote(private_pem) + " -out " + signature_path() + " " +
          input_path());
  expect_verifies(public_pem, with_signature(input));
}

TEST_F(OpensslCli, DocumentedKeyCommandsLoad) {
  const auto es_private = dir_.file("es256.pem");
  const auto es_public = dir_.file("es256.pub.pem");
  openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + shell_quote(es_private));
  openssl("pkey -in " + shell_quote(es_private) + " -pubout -out " + shell_quote(es_public));
  EXPECT_EQ(SigningKey::load_file(es_private).algorithm(), Algorithm::es256);
  EXPECT_EQ(VerificationKey::load_file(es_public).algorithm(), Algorithm::es256);
  const auto secret = dir_.file("hs256.key");
  const auto made = run_command("head -c 32 /dev/urandom | base64 > " + shell_quote(secret));
  ASSERT_EQ(made.status, 0);
  EXPECT_EQ(VerificationKey::load_file(secret).algorithm(), Algorithm::hs256);
}

class PyJwt : public testing::TestWithParam<Algorithm> {
 protected:
  void SetUp() override {
    if (!test::is_executable(python)) GTEST_SKIP() << python << " not found";
  }

  test::CommandResult pyjwt(const std::string& arguments) {
    return run_command(shell_quote(python) + " " + shell_quote(test_dir + "/pyjwt_interop.py") +
                       " " + arguments);
  }

  static test::KeyFiles key_files() {
    const auto& keys = test::shared_keys();
    switch (GetParam()) {
      case Algorithm::hs256:
        return {keys.hs256_secret_file, keys.hs256_secret_file};
      case Algorithm::es256:
        return keys.es256;
      case Algorithm::eddsa:
        return keys.eddsa;
      case Algorithm::rs256:
        return keys.rs256;
    }
    return {};
  }
};

INSTANTIATE_TEST_SUITE_P(Token, PyJwt,
                         testing::Values(Algorithm::hs256, Algorithm::es256, Algorithm::eddsa,
                                         Algorithm::rs256),
                         test::algorithm_test_name);

TEST_P(PyJwt, TheirTokenVerifiesHere) {
  const auto alg = std::string(algorithm_name(GetParam()));
  const auto minted = pyjwt("mint " + alg + " " + shell_quote(key_files().private_pem) +
                            " kvm_01 " + std::string(test::test_uuid));
  if (minted.status == exit_skip) GTEST_SKIP() << "PyJWT or cryptography not installed";
  ASSERT_EQ(minted.status, 0);
  const Verifier verifier(VerificationKey::load_file(key_files().public_pem), Policy{});
  const auto result =
      verifier.verify(trim_newline(minted.output), std::chrono::system_clock::now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_EQ(result.claims->host_id, "kvm_01");
  EXPECT_EQ(result.claims->console, ConsoleKind::vnc);
}

TEST_P(PyJwt, OurTokenVerifiesThere) {
  MintRequest request;
  request.host_id = "kvm_01";
  request.uuid = std::string(test::test_uuid);
  const auto token = mint(SigningKey::load_file(key_files().private_pem), request);
  const auto decoded = pyjwt("decode " + std::string(algorithm_name(GetParam())) + " " +
                             shell_quote(key_files().public_pem) + " " + shell_quote(token));
  if (decoded.status == exit_skip) GTEST_SKIP() << "PyJWT or cryptography not installed";
  ASSERT_EQ(decoded.status, 0);
  EXPECT_EQ(trim_newline(decoded.output), "kvm_01-" + std::string(test::test_uuid));
}

}  // namespace
}  // namespace cgw::token
