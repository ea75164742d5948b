// The RFB security handshake, done by the gateway at both ends of a VNC
// console (RFB 3.8, RFC 6143 section 7.1-7.2, and VeNCrypt as QEMU speaks it).
//
// Towards the VNC server the gateway is the client: it completes the server's
// security itself — None, VNC Authentication with a password the browser never
// sees, or VeNCrypt with X.509 (TLS to the server, its certificate verified
// against the host's CA) — and leaves the stream at the point where the client
// sends ClientInit. Towards the browser the gateway is the server and offers
// None only: the browser was already authorised by its token. Everything after
// (ClientInit, ServerInit, the message streams) is the pump's.
//
// Each function runs on the session's thread, takes the streams it is given by
// reference or ownership, and has no time limit of its own: the caller aborts
// the streams when its limit passes. Reasons never contain a password or key.
#pragma once

#include "console_tls/client_context.hpp"
#include "stream/byte_stream.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::rfb {

// RFB security types (RFC 6143 7.2, and IANA's registry).
enum class SecurityType : std::uint8_t { invalid = 0, none = 1, vnc_auth = 2, vencrypt = 19 };

// VeNCrypt sub-types.
enum class VencryptSubtype : std::uint32_t {
  plain = 256,
  tls_none = 257,  // anonymous TLS: nothing to verify, never chosen
  tls_vnc = 258,
  tls_plain = 259,
  x509_none = 260,
  x509_vnc = 261,
  x509_plain = 262,
};

// What the gateway may use to complete a VNC server's security.
struct ServerCredentials {
  std::optional<std::string> password;  // VNC Authentication, also inside VeNCrypt
  // VeNCrypt with X.509: when set, the server must offer it (no downgrade to a
  // type without TLS); `tls_name` is checked against the server's certificate.
  std::shared_ptr<const console_tls::ClientContext> tls;
  std::string tls_name;
  bool client_certificate = false;  // `tls` presents one
};

struct ServerFailure {
  enum class Kind {
    refused,    // the server's security said no, or offers nothing we can do
    untrusted,  // its TLS certificate did not verify
    broken,     // it closed or spoke something other than RFB 3.8
  };
  Kind kind = Kind::broken;
  std::string reason;  // for the browser: a sentence
  std::string detail;  // for the log only
};

struct SecuredConsole {
  // The console at ClientInit: the stream given, or TLS around it (VeNCrypt).
  std::unique_ptr<stream::ByteStream> console;
  std::optional<ServerFailure> failure;  // set when there is no console
  std::string security;                  // what was done, for the log ("vnc-auth", ...)
};

// The gateway as the server's RFB client. Consumes `console`; on failure it is
// returned closed in `console` (or null) with `failure` set.
boost::asio::awaitable<SecuredConsole> secure_server(std::unique_ptr<stream::ByteStream> console,
                                                     const ServerCredentials& credentials);

struct BrowserFailure {
  std::uint16_t close_code = 1002;
  std::string reason;
};

// The gateway as the browser's RFB server, offering None; the browser's
// ClientInit is the next thing it sends. nullopt when the browser completed it.
boost::asio::awaitable<std::optional<BrowserFailure>> offer_none(stream::ByteStream& browser);

// Tells the browser, in RFB's own words, that the console cannot be opened:
// the version, then (after the browser's) no security types and the reason
// (RFB 3.8 7.1.2). The caller then closes the WebSocket with its code, and
// bounds the wait for the browser.
boost::asio::awaitable<void> tell_failure(stream::ByteStream& browser, std::string_view reason);

}  // namespace cgw::rfb
