// Verifier and mint(): every algorithm round-trips, and every way a token can be
// wrong is refused with the right failure and a reason that quotes nothing of it.
#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <string>
#include <thread>
#include <vector>

#include "tests/token/support.hpp"
#include "token/base64url.hpp"
#include "token/token.hpp"

namespace cgw::token {
namespace {

using namespace std::chrono_literals;
using test::fixed_now;
using test::fixed_now_seconds;
using test::shared_keys;

const std::string subject = "h1-" + std::string(test::test_uuid);

std::string header_json(std::string_view alg) {
  return R"({"alg":")" + std::string(alg) + R"(","typ":"JWT"})";
}

// A payload with a good subject, exp at fixed_now + exp_offset, and `extra`
// members (",\"k\":v" ...) appended.
std::string claims_json(long long exp_offset, std::string_view extra = "") {
  return R"({"sub":")" + subject + R"(","exp":)" + std::to_string(fixed_now_seconds + exp_offset) +
         std::string(extra) + "}";
}

std::string hs256(std::string_view header, std::string_view payload) {
  return test::hs256_token(shared_keys().hs256_secret, header, payload);
}

std::string hs256_claims(std::string_view payload) { return hs256(header_json("HS256"), payload); }

struct KeyPaths {
  std::string signing;
  std::string verification;
};

KeyPaths paths_for(Algorithm alg) {
  const auto& keys = shared_keys();
  switch (alg) {
    case Algorithm::hs256:
      return {keys.hs256_secret_file, keys.hs256_secret_file};
    case Algorithm::es256:
      return {keys.es256.private_pem, keys.es256.public_pem};
    case Algorithm::eddsa:
      return {keys.eddsa.private_pem, keys.eddsa.public_pem};
    case Algorithm::rs256:
      return {keys.rs256.private_pem, keys.rs256.public_pem};
  }
  return {};
}

Verifier verifier_for(Algorithm alg, Policy policy = {}) {
  return Verifier(VerificationKey::load_file(paths_for(alg).verification), std::move(policy));
}

Verifier hs256_verifier(Policy policy = {}) { return verifier_for(Algorithm::hs256, policy); }

MintRequest request_at_fixed_now() {
  MintRequest request;
  request.host_id = "h1";
  request.uuid = std::string(test::test_uuid);
  request.now = fixed_now();
  return request;
}

std::string mint_with(Algorithm alg, MintRequest request = request_at_fixed_now()) {
  return mint(SigningKey::load_file(paths_for(alg).signing), request);
}

// Asserts that `result` is a rejection with this failure and reason.
void expect_rejected(const VerifyResult& result, Failure failure, std::string_view reason) {
  EXPECT_FALSE(result);
  EXPECT_EQ(result.rejection.failure, failure);
  EXPECT_EQ(result.rejection.reason, reason);
}

void expect_invalid(const VerifyResult& result, std::string_view reason) {
  expect_rejected(result, Failure::invalid, reason);
}

constexpr std::array all_algorithms{Algorithm::hs256, Algorithm::es256, Algorithm::eddsa,
                                    Algorithm::rs256};

class EachAlgorithm : public testing::TestWithParam<Algorithm> {};

TEST(OneTime, JtiIsANonEmptyShortString) {
  const auto verifier = hs256_verifier();
  const auto with =
      verifier.verify(hs256_claims(claims_json(60, R"(,"jti":"a1b2c3")")), fixed_now());
  ASSERT_TRUE(with);
  EXPECT_EQ(with.claims->jti, "a1b2c3");
  const auto without = verifier.verify(hs256_claims(claims_json(60, "")), fixed_now());
  ASSERT_TRUE(without);
  EXPECT_FALSE(without.claims->jti);
  const std::string too_long = "\"" + std::string(129, 'x') + "\"";
  for (const std::string& value : {std::string(R"("")"), std::string("12"), std::string("null"),
                                   std::string(R"(["a"])"), too_long}) {
    const auto token = hs256_claims(claims_json(60, R"(,"jti":)" + value));
    expect_invalid(verifier.verify(token, fixed_now()), "bad jti claim");
  }
}

TEST(ViewOnly, ABooleanOnly) {
  const auto verifier = hs256_verifier();
  const auto on =
      verifier.verify(hs256_claims(claims_json(60, R"(,"view_only":true)")), fixed_now());
  ASSERT_TRUE(on);
  EXPECT_TRUE(on.claims->view_only);
  const auto off =
      verifier.verify(hs256_claims(claims_json(60, R"(,"view_only":false)")), fixed_now());
  ASSERT_TRUE(off);
  EXPECT_FALSE(off.claims->view_only);
  const auto absent = verifier.verify(hs256_claims(claims_json(60, "")), fixed_now());
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent.claims->view_only);
  // A string "false" must not read as anything, nor may 1 or null.
  for (const char* value : {R"("false")", R"("true")", "1", "null"}) {
    const auto token = hs256_claims(claims_json(60, std::string(R"(,"view_only":)") + value));
    expect_invalid(verifier.verify(token, fixed_now()), "bad view_only claim");
  }
}

TEST(Record, ABooleanOnly) {
  const auto verifier = hs256_verifier();
  const auto on = verifier.verify(hs256_claims(claims_json(60, R"(,"record":true)")), fixed_now());
  ASSERT_TRUE(on);
  EXPECT_TRUE(on.claims->record);
  const auto absent = verifier.verify(hs256_claims(claims_json(60, "")), fixed_now());
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent.claims->record);
  for (const char* value : {R"("true")", "1", "null"}) {
    const auto token = hs256_claims(claims_json(60, std::string(R"(,"record":)") + value));
    expect_invalid(verifier.verify(token, fixed_now()), "bad record claim");
  }
}

INSTANTIATE_TEST_SUITE_P(Token, EachAlgorithm, testing::ValuesIn(all_algorithms),
                         test::algorithm_test_name);

TEST_P(EachAlgorithm, MintThenVerify) {
  auto request = request_at_fixed_now();
  request.uuid = "0F8FAD5B-D9CB-469F-A165-70867728950E";
  request.console = ConsoleKind::spice;
  request.view_only = true;
  request.record = true;
  request.audience = "gw-a";
  request.ttl = 90s;
  Policy policy;
  policy.audience = "gw-a";
  const auto result =
      verifier_for(GetParam(), policy).verify(mint_with(GetParam(), request), fixed_now() + 5s);
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_EQ(result.claims->host_id, "h1");
  EXPECT_EQ(result.claims->uuid, test::test_uuid);
  EXPECT_EQ(result.claims->console, ConsoleKind::spice);
  EXPECT_TRUE(result.claims->view_only);
  EXPECT_TRUE(result.claims->record);
  EXPECT_EQ(result.claims->expires, fixed_now() + 90s);
}

TEST_P(EachAlgorithm, MintThenVerifyMinimal) {
  const auto result = verifier_for(GetParam()).verify(mint_with(GetParam()), fixed_now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_FALSE(result.claims->console);
  EXPECT_EQ(result.claims->expires, fixed_now() + 60s);
}

TEST_P(EachAlgorithm, MintsTheDocumentedShape) {
  auto request = request_at_fixed_now();
  request.console = ConsoleKind::vnc;
  request.audience = "gw-a";
  const auto token = mint_with(GetParam(), request);
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  EXPECT_EQ(detail::base64url_decode(token.substr(0, first)),
            header_json(algorithm_name(GetParam())));
  EXPECT_EQ(detail::base64url_decode(token.substr(first + 1, second - first - 1)),
            R"({"sub":")" + subject + R"(","iat":1800000000,"exp":1800000060,)" +
                R"("console":"vnc","aud":"gw-a"})");
  const auto signature = detail::base64url_decode(token.substr(second + 1));
  ASSERT_TRUE(signature);
  const std::size_t expected_size = GetParam() == Algorithm::rs256   ? 256
                                    : GetParam() == Algorithm::hs256 ? 32
                                                                     : 64;
  EXPECT_EQ(signature->size(), expected_size);
}

TEST_P(EachAlgorithm, TamperedSignatureRefused) {
  auto token = mint_with(GetParam());
  const auto at = token.rfind('.') + 5;
  token[at] = token[at] == 'A' ? 'B' : 'A';
  expect_invalid(verifier_for(GetParam()).verify(token, fixed_now()), "bad signature");
}

TEST_P(EachAlgorithm, ShortenedSignatureRefused) {
  const auto token = mint_with(GetParam());
  const auto dot = token.rfind('.');
  auto signature = detail::base64url_decode(token.substr(dot + 1)).value();
  signature.pop_back();
  const auto shortened = token.substr(0, dot + 1) + test::b64url(signature);
  expect_invalid(verifier_for(GetParam()).verify(shortened, fixed_now()), "bad signature");
  signature.append(2, '\0');
  const auto lengthened = token.substr(0, dot + 1) + test::b64url(signature);
  expect_invalid(verifier_for(GetParam()).verify(lengthened, fixed_now()), "bad signature");
}

TEST_P(EachAlgorithm, EmptySignatureRefused) {
  auto token = mint_with(GetParam());
  token.resize(token.rfind('.') + 1);
  expect_invalid(verifier_for(GetParam()).verify(token, fixed_now()), "bad signature");
}

TEST_P(EachAlgorithm, TamperedPayloadRefused) {
  auto other_request = request_at_fixed_now();
  other_request.host_id = "h2";
  const auto token = mint_with(GetParam());
  const auto other = mint_with(GetParam(), other_request);
  // h1's header and signature around h2's payload.
  const auto spliced = token.substr(0, token.find('.')) +
                       other.substr(other.find('.'), other.rfind('.') - other.find('.')) +
                       token.substr(token.rfind('.'));
  expect_invalid(verifier_for(GetParam()).verify(spliced, fixed_now()), "bad signature");
}

TEST_P(EachAlgorithm, AlgNoneRefused) {
  const auto verifier = verifier_for(GetParam());
  for (const char* none : {"none", "None", "NONE"}) {
    const auto token = test::signing_input(header_json(none), claims_json(60)) + ".";
    expect_invalid(verifier.verify(token, fixed_now()), "algorithm not allowed");
  }
}

TEST_P(EachAlgorithm, OtherAlgorithmsRefused) {
  const auto verifier = verifier_for(GetParam());
  for (const auto other : all_algorithms) {
    if (other == GetParam()) continue;
    expect_invalid(verifier.verify(mint_with(other), fixed_now()), "algorithm not allowed");
  }
}

TEST_P(EachAlgorithm, AlgNameIsCaseSensitive) {
  std::string alg(algorithm_name(GetParam()));
  for (char& c : alg) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto token = test::signing_input(header_json(alg), claims_json(60)) + ".AAAA";
  expect_invalid(verifier_for(GetParam()).verify(token, fixed_now()), "algorithm not allowed");
}

TEST(KeyConfusion, Hs256KeyedWithPublicKeyRefused) {
  // The classic attack: HMAC with the verifier's public key as the secret.
  for (const auto alg : {Algorithm::rs256, Algorithm::es256, Algorithm::eddsa}) {
    const auto public_pem = test::read_file(paths_for(alg).verification);
    const auto token = test::hs256_token(public_pem, header_json("HS256"), claims_json(60));
    expect_invalid(verifier_for(alg).verify(token, fixed_now()), "algorithm not allowed");
    // Claiming the right alg does not help: the MAC is not a signature.
    const auto relabelled =
        test::hs256_token(public_pem, header_json(algorithm_name(alg)), claims_json(60));
    expect_invalid(verifier_for(alg).verify(relabelled, fixed_now()), "bad signature");
  }
}

TEST(SignatureChecks, OtherKeyOfSameTypeRefused) {
  test::TempDir dir;
  const auto es = test::write_key_pair(dir, "es", test::generate_ec("P-256").get());
  const auto ed = test::write_key_pair(dir, "ed", test::generate_ed25519().get());
  const auto request = request_at_fixed_now();
  expect_invalid(verifier_for(Algorithm::es256)
                     .verify(mint(SigningKey::load_file(es.private_pem), request), fixed_now()),
                 "bad signature");
  expect_invalid(verifier_for(Algorithm::eddsa)
                     .verify(mint(SigningKey::load_file(ed.private_pem), request), fixed_now()),
                 "bad signature");
  const auto other_secret = test::write_file(dir.file("secret"), std::string(40, 'x'));
  expect_invalid(
      hs256_verifier().verify(mint(SigningKey::load_file(other_secret), request), fixed_now()),
      "bad signature");
}

TEST(SignatureChecks, Es256DerSignatureRefused) {
  const auto input = test::signing_input(header_json("ES256"), claims_json(60));
  const auto der = test::ecdsa_der_signature(shared_keys().es256.private_pem, input);
  ASSERT_NE(der.size(), 64u);
  const auto token = input + "." + test::b64url(der);
  expect_invalid(verifier_for(Algorithm::es256).verify(token, fixed_now()), "bad signature");
}

TEST(SignatureChecks, HeaderSegmentIsSignedAsSent) {
  // Same JSON, different spelling: the signature covers the bytes, not the meaning.
  const auto token = hs256_claims(claims_json(60));
  const auto respaced =
      test::b64url(R"({"alg":"HS256", "typ":"JWT"})") + token.substr(token.find('.'));
  expect_invalid(hs256_verifier().verify(respaced, fixed_now()), "bad signature");
}

TEST(Expiry, ExpiredBeyondLeeway) {
  const auto verifier = hs256_verifier();
  expect_rejected(verifier.verify(hs256_claims(claims_json(-31)), fixed_now()), Failure::expired,
                  "token expired");
  // now >= exp + leeway is expired: the boundary itself is refused.
  expect_rejected(verifier.verify(hs256_claims(claims_json(-30)), fixed_now()), Failure::expired,
                  "token expired");
  EXPECT_TRUE(verifier.verify(hs256_claims(claims_json(-29)), fixed_now()));
}

TEST(Expiry, ZeroLeeway) {
  Policy policy;
  policy.leeway = 0s;
  const auto verifier = hs256_verifier(policy);
  expect_rejected(verifier.verify(hs256_claims(claims_json(0)), fixed_now()), Failure::expired,
                  "token expired");
  EXPECT_TRUE(verifier.verify(hs256_claims(claims_json(1)), fixed_now()));
  EXPECT_FALSE(verifier.verify(hs256_claims(claims_json(1)), fixed_now() + 1s));
}

TEST(Expiry, MintedTokenExpiresAfterTtlAndLeeway) {
  const auto verifier = hs256_verifier();
  const auto token = mint_with(Algorithm::hs256);
  EXPECT_TRUE(verifier.verify(token, fixed_now() + 89s));
  expect_rejected(verifier.verify(token, fixed_now() + 90s), Failure::expired, "token expired");
}

TEST(Expiry, FractionalNumericDates) {
  const auto fractional = R"({"sub":")" + subject + R"(","exp":1800000060.5,"nbf":1800000000.25})";
  const auto precise = hs256_verifier().verify(hs256_claims(fractional), fixed_now());
  ASSERT_TRUE(precise) << precise.rejection.reason;
  EXPECT_EQ(precise.claims->expires, fixed_now() + 60500ms);
}

TEST(Expiry, BeyondMaxTtlRefused) {
  const auto verifier = hs256_verifier();  // max_ttl 600 s, leeway 30 s
  EXPECT_TRUE(verifier.verify(hs256_claims(claims_json(630)), fixed_now()));
  expect_invalid(verifier.verify(hs256_claims(claims_json(631)), fixed_now()),
                 "token lifetime exceeds max_ttl");
  Policy short_ttl;
  short_ttl.max_ttl = 60s;
  short_ttl.leeway = 0s;
  expect_invalid(hs256_verifier(short_ttl).verify(hs256_claims(claims_json(61)), fixed_now()),
                 "token lifetime exceeds max_ttl");
}

TEST(Expiry, AbsurdNumbers) {
  const auto verifier = hs256_verifier();
  const auto with_exp = [](std::string_view exp) {
    return hs256_claims(R"({"sub":")" + subject + R"(","exp":)" + std::string(exp) + "}");
  };
  expect_invalid(verifier.verify(with_exp("1e300"), fixed_now()), "token lifetime exceeds max_ttl");
  expect_invalid(verifier.verify(with_exp("18446744073709551615"), fixed_now()),
                 "token lifetime exceeds max_ttl");
  expect_rejected(verifier.verify(with_exp("-1e300"), fixed_now()), Failure::expired,
                  "token expired");
  expect_rejected(verifier.verify(with_exp("-9223372036854775808"), fixed_now()), Failure::expired,
                  "token expired");
  // Boost.JSON reads an overflowing number as infinity, which is no NumericDate.
  expect_invalid(verifier.verify(with_exp("1e999"), fixed_now()), "bad exp claim");
}

TEST(Expiry, MaxTtlCannotOverflowClock) {
  Policy policy;
  policy.max_ttl = std::chrono::seconds::max();
  const auto verifier = hs256_verifier(policy);
  expect_invalid(verifier.verify(hs256_claims(claims_json(4'000'000'000'000LL)), fixed_now()),
                 "token lifetime exceeds max_ttl");
}

TEST(Expiry, MissingOrNonNumericExpRefused) {
  const auto verifier = hs256_verifier();
  expect_invalid(verifier.verify(hs256_claims(R"({"sub":")" + subject + R"("})"), fixed_now()),
                 "missing exp claim");
  for (const char* exp : {R"("1800000060")", "null", "true", "[1800000060]", "{}"}) {
    const auto token = hs256_claims(R"({"sub":")" + subject + R"(","exp":)" + exp + "}");
    expect_invalid(verifier.verify(token, fixed_now()), "bad exp claim");
  }
}

TEST(NotBefore, FutureBeyondLeewayRefused) {
  const auto verifier = hs256_verifier();
  const auto nbf = [](long long offset) {
    return hs256_claims(claims_json(60, R"(,"nbf":)" + std::to_string(fixed_now_seconds + offset)));
  };
  expect_invalid(verifier.verify(nbf(31), fixed_now()), "token not yet valid");
  EXPECT_TRUE(verifier.verify(nbf(30), fixed_now()));
  EXPECT_TRUE(verifier.verify(nbf(-100), fixed_now()));
  expect_invalid(verifier.verify(hs256_claims(claims_json(60, R"(,"nbf":"soon")")), fixed_now()),
                 "bad nbf claim");
}

TEST(Subject, BadSubjectsRefused) {
  const auto verifier = hs256_verifier();
  const std::string exp = std::to_string(fixed_now_seconds + 60);
  for (const std::string& sub_member : std::vector<std::string>{
           std::string(),
           R"("sub":42,)",
           R"("sub":null,)",
           R"("sub":"nodash",)",
           R"("sub":"bad!host-)" + std::string(test::test_uuid) + R"(",)",
           R"("sub":"h1-not-a-uuid",)",
           R"("sub":"h1-)" + std::string(test::test_uuid) + R"(x",)",
       }) {
    const auto token = hs256_claims("{" + sub_member + R"("exp":)" + exp + "}");
    expect_invalid(verifier.verify(token, fixed_now()), "bad subject");
  }
}

TEST(Console, KindsAndRefusal) {
  const auto verifier = hs256_verifier();
  const auto vnc =
      verifier.verify(hs256_claims(claims_json(60, R"(,"console":"vnc")")), fixed_now());
  ASSERT_TRUE(vnc);
  EXPECT_EQ(vnc.claims->console, ConsoleKind::vnc);
  const auto spice =
      verifier.verify(hs256_claims(claims_json(60, R"(,"console":"spice")")), fixed_now());
  ASSERT_TRUE(spice);
  EXPECT_EQ(spice.claims->console, ConsoleKind::spice);
  for (const char* console : {R"("rdp")", R"("VNC")", "1", "null"}) {
    const auto token = hs256_claims(claims_json(60, std::string(R"(,"console":)") + console));
    expect_invalid(verifier.verify(token, fixed_now()), "bad console claim");
  }
}

TEST(Console, SerialWithDeviceAndForce) {
  const auto verifier = hs256_verifier();
  const auto plain =
      verifier.verify(hs256_claims(claims_json(60, R"(,"console":"serial")")), fixed_now());
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain.claims->console, ConsoleKind::serial);
  EXPECT_FALSE(plain.claims->device);
  EXPECT_FALSE(plain.claims->force);
  const auto full = verifier.verify(
      hs256_claims(claims_json(60, R"(,"console":"serial","device":"console1","force":true)")),
      fixed_now());
  ASSERT_TRUE(full);
  EXPECT_EQ(full.claims->device, "console1");
  EXPECT_TRUE(full.claims->force);
  for (const char* device : {R"("")", R"("a b")", R"("../x")", "1", "null"}) {
    const auto token =
        hs256_claims(claims_json(60, std::string(R"(,"console":"serial","device":)") + device));
    expect_invalid(verifier.verify(token, fixed_now()), "bad device claim");
  }
  expect_invalid(verifier.verify(hs256_claims(claims_json(60, R"(,"console":"serial","force":1)")),
                                 fixed_now()),
                 "bad force claim");
  // Only serial consoles have devices and can be taken over.
  expect_invalid(
      verifier.verify(hs256_claims(claims_json(60, R"(,"device":"serial0")")), fixed_now()),
      "device claim without console serial");
  expect_invalid(verifier.verify(hs256_claims(claims_json(60, R"(,"console":"vnc","force":true)")),
                                 fixed_now()),
                 "force claim without console serial");
}

TEST(Audience, CheckedWhenConfigured) {
  Policy policy;
  policy.audience = "gw-a";
  const auto verifier = hs256_verifier(policy);
  const auto with_aud = [](std::string_view aud) {
    return hs256_claims(claims_json(60, R"(,"aud":)" + std::string(aud)));
  };
  EXPECT_TRUE(verifier.verify(with_aud(R"("gw-a")"), fixed_now()));
  EXPECT_TRUE(verifier.verify(with_aud(R"(["other","gw-a"])"), fixed_now()));
  expect_invalid(verifier.verify(hs256_claims(claims_json(60)), fixed_now()), "missing aud claim");
  expect_invalid(verifier.verify(with_aud(R"("gw-b")"), fixed_now()), "audience mismatch");
  expect_invalid(verifier.verify(with_aud(R"("GW-A")"), fixed_now()), "audience mismatch");
  expect_invalid(verifier.verify(with_aud(R"(["gw-b"])"), fixed_now()), "audience mismatch");
  expect_invalid(verifier.verify(with_aud("[]"), fixed_now()), "audience mismatch");
  expect_invalid(verifier.verify(with_aud(R"(["gw-a",1])"), fixed_now()), "bad aud claim");
  expect_invalid(verifier.verify(with_aud("7"), fixed_now()), "bad aud claim");
}

TEST(Audience, IgnoredWhenNotConfigured) {
  const auto verifier = hs256_verifier();
  EXPECT_TRUE(verifier.verify(hs256_claims(claims_json(60, R"(,"aud":"anything")")), fixed_now()));
  EXPECT_TRUE(verifier.verify(hs256_claims(claims_json(60, R"(,"aud":7)")), fixed_now()));
}

TEST(Length, CappedBeforeDecoding) {
  const auto verifier = hs256_verifier();
  expect_invalid(verifier.verify(std::string(4097, 'A'), fixed_now()), "token too long");
  expect_invalid(verifier.verify(std::string(1 << 20, '.'), fixed_now()), "token too long");
  const auto token = mint_with(Algorithm::hs256);
  Policy exact;
  exact.max_token_length = token.size();
  EXPECT_TRUE(hs256_verifier(exact).verify(token, fixed_now()));
  Policy one_less;
  one_less.max_token_length = token.size() - 1;
  expect_invalid(hs256_verifier(one_less).verify(token, fixed_now()), "token too long");
}

TEST(Malformed, SegmentsAndEncoding) {
  const auto verifier = hs256_verifier();
  const auto good = mint_with(Algorithm::hs256);
  const auto first = good.find('.');
  const auto header = good.substr(0, first);
  for (const std::string& token : {
           std::string(), std::string("abc"), std::string("a.b"), good + ".AAAA", std::string(".."),
           good.substr(first),                                                  // no header
           header + "=" + good.substr(first),                                   // padding
           header + "+" + good.substr(first),                                   // standard alphabet
           header + " " + good.substr(first),                                   // whitespace
           good + "=",                                                          // padded signature
           good + "\n",                                                         // trailing newline
           header.substr(0, header.size() - 1) + "." + good.substr(first + 1),  // bad length
       }) {
    expect_invalid(verifier.verify(token, fixed_now()), "malformed token");
  }
}

TEST(Malformed, NonCanonicalBase64Refused) {
  // "Zh" decodes like "Zg" if the unused bits are ignored; it must not.
  const auto token = mint_with(Algorithm::hs256);
  const auto signature = token.substr(token.rfind('.') + 1);
  ASSERT_EQ(signature.size(), 43u);  // 32 bytes: the last character carries 2 unused bits
  auto tweaked = token;
  const char last = tweaked.back();
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  tweaked.back() = alphabet[alphabet.find(last) ^ 1];
  expect_invalid(verifier_for(Algorithm::hs256).verify(tweaked, fixed_now()), "malformed token");
}

TEST(Malformed, JsonRefused) {
  const auto verifier = hs256_verifier();
  const auto payload = claims_json(60);
  for (const std::string& header : {
           std::string("not json"),
           std::string(R"(["HS256"])"),
           std::string(R"("HS256")"),
           std::string(R"({"alg":"HS256")"),
           std::string(R"({"alg":"HS256"} x)"),
           std::string(R"({"alg":"HS256",})"),
           std::string(R"({"typ":"JWT"})"),
           std::string(R"({"alg":256})"),
           std::string("{\"alg\":\"HS256\",\"x\":\"\xff\"}"),
       }) {
    expect_invalid(verifier.verify(hs256(header, payload), fixed_now()), "malformed token");
  }
  for (const std::string& bad_payload : {
           std::string("not json"),
           std::string("[1800000060]"),
           std::string("null"),
           std::string(R"({"sub":"x",)"),
           std::string(R"({"a":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]})"),
           "{\"sub\":\"" + subject + "\",\"exp\":1800000060,\"x\":\"\xc3\x28\"}",
       }) {
    expect_invalid(verifier.verify(hs256(header_json("HS256"), bad_payload), fixed_now()),
                   "malformed token");
  }
}

TEST(Header, CritRefused) {
  const auto verifier = hs256_verifier();
  expect_invalid(
      verifier.verify(hs256(R"({"alg":"HS256","crit":["exp"],"exp":1})", claims_json(60)),
                      fixed_now()),
      "unsupported crit header");
  expect_invalid(
      verifier.verify(hs256(R"({"alg":"HS256","crit":[]})", claims_json(60)), fixed_now()),
      "unsupported crit header");
}

TEST(Header, TypMustBeJwt) {
  const auto verifier = hs256_verifier();
  const auto with_typ = [](std::string_view typ) {
    return hs256(R"({"alg":"HS256","typ":)" + std::string(typ) + "}", claims_json(60));
  };
  EXPECT_TRUE(verifier.verify(with_typ(R"("JWT")"), fixed_now()));
  EXPECT_TRUE(verifier.verify(with_typ(R"("jwt")"), fixed_now()));
  EXPECT_TRUE(verifier.verify(hs256(R"({"alg":"HS256"})", claims_json(60)), fixed_now()));
  for (const char* typ : {R"("at+jwt")", R"("JOSE")", R"("")", "1", "null"}) {
    expect_invalid(verifier.verify(with_typ(typ), fixed_now()), "bad typ header");
  }
}

TEST(Reasons, NeverQuoteTheToken) {
  Policy policy;
  policy.audience = "gw-a";
  const auto verifier = hs256_verifier(policy);
  const auto es256_input = test::signing_input(header_json("ES256"), claims_json(60));
  std::vector<std::string> tokens = {
      hs256_claims(claims_json(-100, R"(,"aud":"gw-a")")),
      hs256_claims(claims_json(6000, R"(,"aud":"gw-a")")),
      hs256_claims(claims_json(60, R"(,"aud":"gw-b")")),
      hs256_claims(claims_json(60)),
      hs256_claims(claims_json(60, R"(,"console":"rdp","aud":"gw-a")")),
      hs256_claims(claims_json(60, R"(,"nbf":1900000000,"aud":"gw-a")")),
      hs256_claims(R"({"sub":"secret-host-id","exp":1800000060})"),
      hs256(R"({"alg":"HS256","crit":["x"]})", claims_json(60)),
      hs256(R"({"alg":"HS256","typ":"secret"})", claims_json(60)),
      test::signing_input(header_json("none"), claims_json(60)) + ".",
      es256_input + "." +
          test::b64url(test::ecdsa_der_signature(shared_keys().es256.private_pem, es256_input)),
      mint_with(Algorithm::rs256),
      mint_with(Algorithm::hs256) + "x",
  };
  auto tampered = mint_with(Algorithm::hs256);
  tampered[tampered.size() - 10] ^= 1;
  tokens.push_back(tampered);
  for (const auto& token : tokens) {
    const auto result = verifier.verify(token, fixed_now());
    ASSERT_FALSE(result) << token;
    const auto& reason = result.rejection.reason;
    EXPECT_FALSE(reason.empty());
    EXPECT_LE(reason.size(), 40u);
    std::size_t start = 0;
    while (start <= token.size()) {
      const auto end = std::min(token.find('.', start), token.size());
      const auto segment = token.substr(start, end - start);
      if (segment.size() >= 4) {
        EXPECT_EQ(reason.find(segment), std::string::npos) << reason;
      }
      start = end + 1;
    }
    for (const char* secret_part : {"secret", "h1", "0f8fad5b", "gw-", "rdp"}) {
      EXPECT_EQ(reason.find(secret_part), std::string::npos) << reason;
    }
  }
}

TEST(Plain, AcceptsBareSubject) {
  const auto verifier = Verifier::plain();
  EXPECT_TRUE(verifier.is_plain());
  const auto result = verifier.verify("kvm_01-0F8FAD5B-D9CB-469F-A165-70867728950E", fixed_now());
  ASSERT_TRUE(result);
  EXPECT_EQ(result.claims->host_id, "kvm_01");
  EXPECT_EQ(result.claims->uuid, test::test_uuid);
  EXPECT_FALSE(result.claims->expires);
  EXPECT_FALSE(result.claims->console);
}

TEST(Plain, RefusesAnythingElse) {
  const auto verifier = Verifier::plain();
  expect_invalid(verifier.verify(mint_with(Algorithm::hs256), fixed_now()), "bad subject");
  expect_invalid(verifier.verify("nodash", fixed_now()), "bad subject");
  expect_invalid(verifier.verify(std::string(5000, 'a'), fixed_now()), "token too long");
  EXPECT_FALSE(hs256_verifier().is_plain());
}

TEST(VerifierObject, MovesAndSharesAcrossThreads) {
  auto original = verifier_for(Algorithm::es256);
  const Verifier verifier = std::move(original);
  const auto good = mint_with(Algorithm::es256);
  auto bad = good;
  bad[bad.rfind('.') + 3] ^= 1;
  std::vector<std::thread> threads;
  std::array<int, 4> failures{};
  for (std::size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        if (!verifier.verify(good, fixed_now())) ++failures[t];
        if (verifier.verify(bad, fixed_now())) ++failures[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const int count : failures) EXPECT_EQ(count, 0);
}

TEST(Mint, RefusesBadInput) {
  const auto key = SigningKey::load_file(shared_keys().hs256_secret_file);
  auto request = request_at_fixed_now();
  request.host_id = "bad-host";
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request.host_id = "";
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request = request_at_fixed_now();
  request.uuid = "not-a-uuid";
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request = request_at_fixed_now();
  request.ttl = 0s;
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request.ttl = -5s;
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  // A device or force only with console serial, and a device is an alias.
  request = request_at_fixed_now();
  request.device = "serial0";
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request.device.reset();
  request.force = true;
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request.console = ConsoleKind::serial;
  request.device = "serial 0";
  EXPECT_THROW(mint(key, request), std::invalid_argument);
  request.device = "serial0";
  EXPECT_NO_THROW(mint(key, request));
}

}  // namespace
}  // namespace cgw::token
