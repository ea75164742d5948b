// The pure parts: subject parsing, names, and the strict base64url codec.
#include <gtest/gtest.h>

#include "token/base64url.hpp"
#include "token/token.hpp"

namespace cgw::token {
namespace {

TEST(ParseSubject, SplitsAtFirstDash) {
  const auto claims = parse_subject("kvm_01-0f8fad5b-d9cb-469f-a165-70867728950e");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->host_id, "kvm_01");
  EXPECT_EQ(claims->uuid, "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_FALSE(claims->console);
  EXPECT_FALSE(claims->expires);
}

TEST(ParseSubject, LowerCasesUuid) {
  const auto claims = parse_subject("h-0F8FAD5B-D9CB-469F-A165-70867728950E");
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->uuid, "0f8fad5b-d9cb-469f-a165-70867728950e");
}

TEST(ParseSubject, RefusesMalformed) {
  for (const char* subject : {
           "", "nodash",
           "-0f8fad5b-d9cb-469f-a165-70867728950e",       // empty host id
           "ho.st-0f8fad5b-d9cb-469f-a165-70867728950e",  // bad host id
           "h st-0f8fad5b-d9cb-469f-a165-70867728950e",   // bad host id
           "h-0f8fad5b-d9cb-469f-a165-70867728950",       // uuid too short
           "h-0f8fad5b-d9cb-469f-a165-70867728950e0",     // uuid too long
           "h-0f8fad5bd9cb-469f-a165-70867728950e-",      // dashes misplaced
           "h-0f8fad5g-d9cb-469f-a165-70867728950e",      // not hex
           "h-{0f8fad5b-d9cb-469f-a165-70867728950e}",    // braces
           "h-0f8fad5b-d9cb-469f-a165-70867728950e\n",    // trailing newline
       }) {
    EXPECT_FALSE(parse_subject(subject)) << subject;
  }
}

TEST(Names, MatchJwsAndConfig) {
  EXPECT_EQ(algorithm_name(Algorithm::hs256), "HS256");
  EXPECT_EQ(algorithm_name(Algorithm::es256), "ES256");
  EXPECT_EQ(algorithm_name(Algorithm::eddsa), "EdDSA");
  EXPECT_EQ(algorithm_name(Algorithm::rs256), "RS256");
  EXPECT_EQ(console_kind_name(ConsoleKind::vnc), "vnc");
  EXPECT_EQ(console_kind_name(ConsoleKind::spice), "spice");
}

TEST(Base64url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    const auto encoded = detail::base64url_encode(bytes);
    EXPECT_EQ(encoded.find_first_of("+/="), std::string::npos);
    const auto decoded = detail::base64url_decode(encoded);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
}

TEST(Base64url, KnownVectors) {
  // RFC 4648 section 10, in the URL-safe alphabet without padding.
  EXPECT_EQ(detail::base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(detail::base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(detail::base64url_encode("f"), "Zg");
  EXPECT_EQ(detail::base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(detail::base64url_decode("-_8"), std::string("\xfb\xff"));
}

TEST(Base64url, DecodingIsStrict) {
  for (const char* text : {"Zg==", "Zg=", "Zm9v YmFy", "Zm9v+mFy", "Zm9v/mFy", "Z", "Zm9vY", "Zh",
                           "Zm9vYmF", "Zm9\nv"}) {
    EXPECT_FALSE(detail::base64url_decode(text)) << text;
  }
  EXPECT_EQ(detail::base64url_decode(""), std::string());
}

}  // namespace
}  // namespace cgw::token
