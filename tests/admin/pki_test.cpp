// The keys and certificates `console-gw setup` makes, read back with OpenSSL
// and with the token component that will use them.
#include "admin/pki.hpp"
#include "tests/support/scratch.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace cgw::admin {
namespace {

using namespace std::chrono_literals;

TEST(Pki, Ed25519PairSignsTokensTheGatewayVerifies) {
  const KeyPair pair = generate_ed25519();
  EXPECT_NE(pair.private_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  EXPECT_NE(pair.public_pem.find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(public_key_of(pair.private_pem), pair.public_pem);

  test::Scratch dir;
  const auto signing = token::SigningKey::load_file(dir.write("ui.pem", pair.private_pem));
  auto verification = token::VerificationKey::load_file(dir.write("gw.pem", pair.public_pem));
  EXPECT_EQ(verification.algorithm(), token::Algorithm::eddsa);
  token::MintRequest request;
  request.host_id = "kvm01";
  request.uuid = "6dd411c6-8710-48b0-bea0-e273ebd176c6";
  request.ttl = 60s;
  const std::string jwt = token::mint(signing, request);
  const token::Verifier verifier(std::move(verification), token::Policy{});
  const auto result = verifier.verify(jwt, std::chrono::system_clock::now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_EQ(result.claims->host_id, "kvm01");
}

TEST(Pki, TheGatewayRefusesTheSigningHalf) {
  test::Scratch dir;
  const KeyPair pair = generate_ed25519();
  EXPECT_THROW(token::VerificationKey::load_file(dir.write("ui.pem", pair.private_pem)),
               token::KeyError);
}

TEST(Pki, SelfSignedCertificateNamesTheHostAndServes) {
  const CertificateAndKey made =
      make_self_signed({"gw1.example.test", {"gw1.example.test", "10.1.2.3"}, 30});
  test::Scratch dir;
  const CertificateInfo info = read_certificate_file(dir.write("tls.crt", made.certificate_pem));
  EXPECT_TRUE(info.self_signed);
  EXPECT_EQ(info.subject, "/CN=gw1.example.test");
  EXPECT_EQ(info.names, (std::vector<std::string>{"gw1.example.test", "10.1.2.3"}));
  EXPECT_TRUE(certificate_covers(info, "gw1.example.test"));
  EXPECT_TRUE(certificate_covers(info, "10.1.2.3"));
  EXPECT_FALSE(certificate_covers(info, "gw2.example.test"));
  const auto now = std::chrono::system_clock::now();
  EXPECT_LT(info.not_before, now);
  EXPECT_GT(info.not_after, now + 29 * 24h);
  EXPECT_LT(info.not_after, now + 31 * 24h);
  // openssl agrees the key is the certificate's.
  dir.write("tls.key", made.key_pem);
  test::run("openssl x509 -noout -pubkey -in " + dir.path("tls.crt") + " > " + dir.path("a") +
            " && openssl pkey -pubout -in " + dir.path("tls.key") + " > " + dir.path("b") +
            " && cmp " + dir.path("a") + " " + dir.path("b"));
}

TEST(Pki, RequestCarriesTheNamesAndAnInterimCertificateSharesItsKey) {
  const CertificateRequest request{"gw1.example.test", {"gw1.example.test"}, 825};
  const CertificateAndKey csr = make_csr(request);
  EXPECT_NE(csr.certificate_pem.find("BEGIN CERTIFICATE REQUEST"), std::string::npos);
  test::Scratch dir;
  dir.write("tls.csr", csr.certificate_pem);
  test::run("openssl req -noout -verify -in " + dir.path("tls.csr") + " 2>/dev/null");
  test::run("openssl req -noout -text -in " + dir.path("tls.csr") +
            " | grep -q 'DNS:gw1.example.test'");
  const CertificateAndKey interim = make_self_signed(request, csr.key_pem);
  EXPECT_EQ(interim.key_pem, csr.key_pem);
}

TEST(Pki, WildcardCoversOneLabel) {
  CertificateInfo info;
  info.names = {"*.example.test"};
  EXPECT_TRUE(certificate_covers(info, "gw1.example.test"));
  EXPECT_FALSE(certificate_covers(info, "a.gw1.example.test"));
  EXPECT_FALSE(certificate_covers(info, "example.test"));
}

TEST(Pki, UnreadableCertificateIsAnError) {
  EXPECT_THROW(read_certificate_file("/nonexistent/tls.crt"), PkiError);
  test::Scratch dir;
  EXPECT_THROW(read_certificate_file(dir.write("x.crt", "not a certificate")), PkiError);
}

}  // namespace
}  // namespace cgw::admin
