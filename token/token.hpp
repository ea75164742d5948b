// Console tokens: what a browser presents to open one console.
//
// A token names a host and a domain ("<host-id>-<domain-uuid>") and, in jwt mode,
// is a compact JWS signed by the web UI. The gateway holds only a verification
// key: an HS256 shared secret, or a PEM *public* key (ES256, EdDSA/Ed25519, RS256),
// so a gateway on its own host cannot mint tokens for asymmetric keys.
//
// Nothing here logs, and no error text ever contains the token or part of it.
// Verifier is immutable after construction and safe to use from any thread.
#pragma once

#include "common/console_kind.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cgw::token {

enum class Algorithm { hs256, es256, eddsa, rs256 };
// "HS256", "ES256", "EdDSA", "RS256": the JWS "alg" names.
std::string_view algorithm_name(Algorithm alg);

// Which console of the domain the token opens (the "console" claim: "vnc",
// "spice" or "serial"); unset means the domain's first graphics console.
using ::cgw::ConsoleKind;

// A token's verified content.
struct Claims {
  std::string host_id;  // [A-Za-z0-9_]+
  std::string uuid;     // lower-case 8-4-4-4-12 hex
  std::optional<ConsoleKind> console;
  std::optional<std::chrono::system_clock::time_point> expires;  // unset in plain mode
  bool view_only = false;  // "view_only": true — the browser's input is dropped
  bool record = false;     // "record": true — the session is recorded (docs/recording.md)
  // "jti": the token's ID. A token that carries one opens a console once
  // (the gateway's ReplayGuard remembers it until it expires).
  std::optional<std::string> jti;
  // With console "serial" only: "device", the libvirt alias of the serial or
  // console device ("serial0", "console0"; unset: the domain's first), and
  // "force": true, which takes the console over from a client that holds it.
  std::optional<std::string> device;
  bool force = false;
};

// Why a token was refused. `expired` maps to WebSocket close 4402, `invalid` to 4401.
enum class Failure { invalid, expired };
struct Rejection {
  Failure failure;
  std::string reason;  // short, for logs and the close reason; never contains the token
};

// Either claims or a rejection.
struct VerifyResult {
  std::optional<Claims> claims;
  Rejection rejection{Failure::invalid, {}};
  explicit operator bool() const { return claims.has_value(); }
};

// Raised when a key file can't be used; what() names the file and the problem.
class KeyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A serial console's device claim: a libvirt device alias, [A-Za-z0-9_.-]{1,64}.
bool valid_device_name(std::string_view device);

// Splits "<host-id>-<uuid>" at the first '-' and validates both halves.
std::optional<Claims> parse_subject(std::string_view subject);

// A key that verifies signatures. Loaded from a file: PEM public key (EC P-256,
// Ed25519, RSA >= 2048 bits) or, for anything else, an HS256 shared secret
// (surrounding whitespace trimmed, at least 32 bytes). A PEM *private* key is
// refused: the gateway must not be able to mint tokens.
class VerificationKey {
 public:
  static VerificationKey load_file(const std::string& path);  // throws KeyError
  Algorithm algorithm() const;
  ~VerificationKey();
  VerificationKey(VerificationKey&&) noexcept;
  VerificationKey& operator=(VerificationKey&&) noexcept;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit VerificationKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct Policy {
  std::optional<std::string> audience;  // when set, "aud" must name it
  std::chrono::seconds max_ttl{600};    // refuse exp further ahead than this
  std::chrono::seconds leeway{30};      // clock skew allowed on exp and nbf
  std::size_t max_token_length = 4096;
};

class Verifier {
 public:
  // jwt mode: compact JWS signed with `key`'s algorithm, and no other.
  Verifier(VerificationKey key, Policy policy);
  // plain mode: "<host-id>-<uuid>" unsigned (WebVirtMgr's format). Only when configured.
  static Verifier plain();

  VerifyResult verify(std::string_view token, std::chrono::system_clock::time_point now) const;
  bool is_plain() const { return !key_; }

  ~Verifier();
  Verifier(Verifier&&) noexcept;
  Verifier& operator=(Verifier&&) noexcept;

 private:
  Verifier() = default;
  std::unique_ptr<VerificationKey> key_;
  Policy policy_;
};

// A key that signs tokens: an HS256 secret, or a PEM private key (EC P-256 → ES256,
// Ed25519 → EdDSA, RSA → RS256). Used by `console-gw token` and the tests.
class SigningKey {
 public:
  static SigningKey load_file(const std::string& path);  // throws KeyError
  Algorithm algorithm() const;
  ~SigningKey();
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit SigningKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct MintRequest {
  std::string host_id;
  std::string uuid;
  std::optional<ConsoleKind> console;
  bool view_only = false;
  bool record = false;
  std::chrono::seconds ttl{60};
  std::optional<std::string> audience;
  std::optional<std::string> jti;     // a one-time token's ID
  std::optional<std::string> device;  // serial consoles: the device's alias
  bool force = false;                 // serial consoles: take the console over
  std::chrono::system_clock::time_point now = std::chrono::system_clock::now();
};

// Returns a compact JWS with claims sub, exp, iat (and console, view_only, aud,
// jti, device, force when given).
// Throws std::invalid_argument when host_id, uuid or device is malformed, or
// device or force is given without console serial.
std::string mint(const SigningKey& key, const MintRequest& request);

}  // namespace cgw::token
