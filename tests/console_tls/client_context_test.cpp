// ClientContext::load: what it accepts, and the sentence it throws for each
// kind of broken setting.
#include "console_tls/client_context.hpp"

#include "tests/console_tls/certs.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace cgw::console_tls {
namespace {

using test::CertFiles;

TlsClientSettings ca_only(const std::string& ca) {
  TlsClientSettings settings;
  settings.ca_file = ca;
  return settings;
}

class ClientContextTest : public ::testing::Test {
 protected:
  ClientContextTest()
      : ca_(test::make_ca(scratch_, "ca")),
        client_(test::issue_certificate(scratch_, ca_, "client", test::client_spec())) {}

  // The message load() throws, or "" when it loads.
  std::string error_of(const TlsClientSettings& settings) {
    try {
      ClientContext::load(settings);
      return "";
    } catch (const std::runtime_error& e) {
      return e.what();
    }
  }

  test::Scratch scratch_;
  CertFiles ca_;
  CertFiles client_;
};

TEST_F(ClientContextTest, LoadsCaAlone) {
  const auto context = ClientContext::load(ca_only(ca_.cert));
  ASSERT_NE(context, nullptr);
  EXPECT_NE(context->native_handle(), nullptr);
}

TEST_F(ClientContextTest, LoadsCaAndClientCertificate) {
  EXPECT_EQ(error_of({ca_.cert, client_.cert, client_.key}), "");
}

TEST_F(ClientContextTest, KeyMayBeInTheCertificateFile) {
  const std::string both = scratch_.path("both.pem");
  test::run("cat '" + client_.cert + "' '" + client_.key + "' > '" + both + "'");
  EXPECT_EQ(error_of({ca_.cert, both, ""}), "");
}

TEST_F(ClientContextTest, NamesAMissingCaFile) {
  const std::string missing = scratch_.path("missing.pem");
  EXPECT_EQ(error_of(ca_only(missing)),
            "console_ca " + missing + ": cannot open (No such file or directory)");
}

TEST_F(ClientContextTest, NamesACaFileWithoutCertificates) {
  const std::string empty = scratch_.write("empty.pem", "not a certificate\n");
  EXPECT_EQ(error_of(ca_only(empty)), "console_ca " + empty + ": no certificate in file");
}

TEST_F(ClientContextTest, RequiresACa) {
  EXPECT_EQ(error_of({}), "console_ca: not set (the CA that issued the consoles' certificates)");
}

TEST_F(ClientContextTest, NamesAKeyThatDoesNotMatch) {
  const CertFiles other = test::issue_certificate(scratch_, ca_, "other", test::client_spec());
  EXPECT_EQ(error_of({ca_.cert, client_.cert, other.key}),
            "console_key " + other.key + ": does not match console_cert " + client_.cert);
}

TEST_F(ClientContextTest, NamesAKeyFileWithoutKey) {
  EXPECT_EQ(error_of({ca_.cert, client_.cert, ca_.cert}),
            "console_key " + ca_.cert + ": no private key in file");
}

TEST_F(ClientContextTest, NamesACertificateFileWithoutCertificate) {
  EXPECT_EQ(error_of({ca_.cert, client_.key, client_.key}),
            "console_cert " + client_.key + ": no certificate in file");
}

TEST_F(ClientContextTest, RefusesAKeyWithoutCertificate) {
  EXPECT_EQ(error_of({ca_.cert, "", client_.key}),
            "console_key " + client_.key + ": set without console_cert");
}

}  // namespace
}  // namespace cgw::console_tls
