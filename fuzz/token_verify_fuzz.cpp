// libFuzzer target: token::Verifier::verify and token::parse_subject on any text.
//
// Verifiers for a fixed HS256 secret and a fixed Ed25519 public key, and the
// plain (unsigned) one, all at a fixed `now`, so that the seeds in
// corpus/token_verify/ stay valid. The first byte of the input chooses:
//   - even: the rest is a token, given to every verifier and to parse_subject;
//   - odd: the rest is "<header JSON>\n<payload JSON>", which the target
//     encodes and signs with the HS256 secret, so that the claims checks behind
//     the signature are fuzzed too (a fuzzer cannot forge a signature).
// Checked: nothing crashes or throws; a rejection always has a reason that does
// not contain the token; accepted claims have a valid host id and a lower-case
// uuid, and in jwt mode an expiry no further ahead than the policy allows.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "token/token.hpp"

namespace {

using cgw::token::Claims;
using cgw::token::Policy;
using cgw::token::VerificationKey;
using cgw::token::Verifier;
using cgw::token::VerifyResult;
using std::chrono::system_clock;

// Fuzz-only keys. The Ed25519 private half was thrown away: no token here
// verifies with it, which is what the EdDSA verifier is fuzzed for.
constexpr std::string_view hs256_secret = "console-gw fuzz secret, not for any real gateway";
constexpr std::string_view ed25519_public =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAlq2tyKFy7TMLqzwu6tN97X9H/EMKUzMbpW0CHs7R48E=\n"
    "-----END PUBLIC KEY-----\n";

// 2026-01-01T00:00:00Z: the seeds' iat; their exp is a few minutes later.
const system_clock::time_point now = system_clock::time_point(std::chrono::seconds(1767225600));

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "token_verify_fuzz: %s\n", what);
  std::abort();
}

VerificationKey load_key(std::string_view contents) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("cgw-token-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "key";
  std::ofstream(file, std::ios::binary) << contents;
  VerificationKey key = VerificationKey::load_file(file.string());
  std::filesystem::remove_all(dir);
  return key;
}

Policy policy() {
  Policy p;
  p.audience = "console-gw";
  return p;
}

struct Verifiers {
  Verifier hs256{load_key(hs256_secret), policy()};
  Verifier eddsa{load_key(ed25519_public), Policy{}};
  Verifier plain = Verifier::plain();
};

const Verifiers& verifiers() {
  static const Verifiers v;
  return v;
}

bool lower_uuid(std::string_view uuid) {
  if (uuid.size() != 36) return false;
  for (std::size_t i = 0; i < uuid.size(); ++i) {
    const char c = uuid[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

bool valid_host_id(std::string_view id) {
  if (id.empty()) return false;
  for (const char c : id) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void check_claims(const Claims& claims) {
  check(valid_host_id(claims.host_id), "accepted a malformed host id");
  check(lower_uuid(claims.uuid), "accepted a uuid that is not lower-case 8-4-4-4-12 hex");
}

void check_result(const VerifyResult& result, std::string_view token, bool jwt) {
  if (result) {
    check_claims(*result.claims);
    if (jwt) {
      check(result.claims->expires.has_value(), "a jwt accepted without exp");
      // A second of slack for the rounding of a fractional exp.
      const auto slack = std::chrono::seconds(1);
      check(*result.claims->expires <= now + Policy{}.max_ttl + Policy{}.leeway + slack,
            "a jwt accepted with exp beyond max_ttl");
      check(*result.claims->expires + Policy{}.leeway + slack >= now, "an expired jwt accepted");
    }
    return;
  }
  check(!result.rejection.reason.empty(), "a rejection without a reason");
  // The fixed reasons are shorter than this: a token as long is not one of them.
  if (token.size() > 40) {
    check(result.rejection.reason.find(token) == std::string::npos, "the reason quotes the token");
  }
}

std::string base64url(std::string_view bytes) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += alphabet[(bits >> count) & 63];
    }
  }
  if (count > 0) out += alphabet[(bits << (6 - count)) & 63];
  return out;
}

// A compact JWS of `header` and `payload` as given, signed with the HS256 secret.
std::string sign_hs256(std::string_view header, std::string_view payload) {
  std::string input = base64url(header) + "." + base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), hs256_secret.data(), static_cast<int>(hs256_secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), length));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Verifiers& v = verifiers();
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    check_result(v.hs256.verify(rest, now), rest, true);
    check_result(v.eddsa.verify(rest, now), rest, true);
    check_result(v.plain.verify(rest, now), rest, false);
    if (const std::optional<Claims> claims = cgw::token::parse_subject(rest)) {
      check_claims(*claims);
      check(claims->host_id.size() + 1 + claims->uuid.size() == rest.size(),
            "parse_subject accepted more than <host-id>-<uuid>");
    }
    return 0;
  }
  const std::size_t newline = rest.find('\n');
  const std::string token = newline == std::string_view::npos
                                ? sign_hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", rest)
                                : sign_hs256(rest.substr(0, newline), rest.substr(newline + 1));
  check_result(v.hs256.verify(token, now), token, true);
  return 0;
}
