#include "rfb/handshake.hpp"

#include "console_tls/tls_client_stream.hpp"
#include "rfb/vnc_auth.hpp"
#include "stream/exact_io.hpp"

#include <boost/asio/error.hpp>

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace cgw::rfb {
namespace {

namespace net = boost::asio;
using stream::error_code;

constexpr std::string_view version_38 = "RFB 003.008\n";
constexpr std::size_t version_size = 12;
// A server's failure reason, or a browser's, longer than this is cut.
constexpr std::uint32_t max_reason = 4096;

using stream::read_exact;
using stream::write_all;

net::awaitable<error_code> write_all(stream::ByteStream& s, std::string_view text) {
  co_return co_await s.write(net::buffer(text.data(), text.size()));
}

std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

void put_be32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// "RFB xxx.yyy\n" → (major, minor), or nullopt.
std::optional<std::pair<int, int>> parse_version(std::span<const std::uint8_t, version_size> v) {
  const auto digit = [](std::uint8_t c) { return c >= '0' && c <= '9'; };
  if (std::memcmp(v.data(), "RFB ", 4) != 0 || v[7] != '.' || v[11] != '\n') return std::nullopt;
  int major = 0;
  int minor = 0;
  for (std::size_t i = 4; i < 7; ++i) {
    if (!digit(v[i]) || !digit(v[i + 4])) return std::nullopt;
    major = major * 10 + (v[i] - '0');
    minor = minor * 10 + (v[i + 4] - '0');
  }
  return std::pair{major, minor};
}

// Only printable ASCII of a peer's text reaches our sentences and log.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::string type_list(std::span<const std::uint8_t> types) {
  std::string out;
  for (const std::uint8_t t : types) {
    if (!out.empty()) out += ", ";
    out += std::to_string(t);
  }
  return out;
}

std::string subtype_list(const std::vector<std::uint32_t>& types) {
  std::string out;
  for (const std::uint32_t t : types) {
    if (!out.empty()) out += ", ";
    out += std::to_string(t);
  }
  return out;
}

// One server handshake: the stream, and the first failure met.
class ServerHandshake {
 public:
  ServerHandshake(std::unique_ptr<stream::ByteStream> console, const ServerCredentials& credentials)
      : console_(std::move(console)), credentials_(credentials) {}

  net::awaitable<SecuredConsole> run() {
    SecuredConsole out;
    if (co_await negotiate()) {
      out.console = std::move(console_);
      out.security = std::move(security_);
      co_return out;
    }
    // A named reason: GCC 12 mis-destroys a temporary passed by value to a coroutine.
    const stream::EndReason why;
    if (console_) co_await console_->close(why);
    out.console = std::move(console_);
    out.failure = std::move(failure_);
    co_return out;
  }

 private:
  bool fail(ServerFailure::Kind kind, std::string reason, std::string detail = {}) {
    failure_ = ServerFailure{kind, std::move(reason), std::move(detail)};
    return false;
  }

  // An I/O error while talking to the server.
  bool broken(const error_code& ec, std::string_view during) {
    return fail(ServerFailure::Kind::broken,
                "VNC server closed the connection during its handshake",
                std::string(during) + ": " + ec.message());
  }

  net::awaitable<bool> read(std::span<std::uint8_t> buf, std::string_view what) {
    if (const error_code ec = co_await read_exact(*console_, buf)) co_return broken(ec, what);
    co_return true;
  }
  net::awaitable<bool> write(std::span<const std::uint8_t> buf, std::string_view what) {
    if (const error_code ec = co_await write_all(*console_, buf)) co_return broken(ec, what);
    co_return true;
  }

  // A u32 length and that many bytes of text (RFB's reason strings).
  net::awaitable<std::optional<std::string>> read_reason() {
    std::array<std::uint8_t, 4> length{};
    if (!co_await read(length, "reason length")) co_return std::nullopt;
    const std::uint32_t n = std::min(be32(length.data()), max_reason);
    std::string text(n, '\0');
    if (!co_await read(std::span(reinterpret_cast<std::uint8_t*>(text.data()), n), "reason"))
      co_return std::nullopt;
    co_return printable(text);
  }

  net::awaitable<bool> negotiate() {
    std::array<std::uint8_t, version_size> version{};
    if (!co_await read(version, "protocol version")) co_return false;
    const auto parsed = parse_version(version);
    if (!parsed) {
      co_return fail(ServerFailure::Kind::broken, "console is not a VNC server",
                     "no RFB protocol version from the server");
    }
    // 3.8 is what we speak; a server of a later version must accept it.
    if (parsed->first < 3 || (parsed->first == 3 && parsed->second < 8)) {
      co_return fail(ServerFailure::Kind::broken,
                     "VNC server speaks RFB " + std::to_string(parsed->first) + "." +
                         std::to_string(parsed->second) + "; the gateway needs 3.8",
                     {});
    }
    if (!co_await write(
            std::span(reinterpret_cast<const std::uint8_t*>(version_38.data()), version_38.size()),
            "protocol version"))
      co_return false;

    std::array<std::uint8_t, 1> count{};
    if (!co_await read(count, "security types")) co_return false;
    if (count[0] == 0) {
      const auto why = co_await read_reason();
      if (!why) co_return false;
      co_return fail(ServerFailure::Kind::refused, "VNC server refused the connection: " + *why);
    }
    std::vector<std::uint8_t> types(count[0]);
    if (!co_await read(types, "security types")) co_return false;
    const auto offers = [&types](SecurityType t) {
      return std::find(types.begin(), types.end(), static_cast<std::uint8_t>(t)) != types.end();
    };

    SecurityType chosen = SecurityType::invalid;
    if (credentials_.tls) {
      // TLS was configured for this host: nothing without it will do.
      if (!offers(SecurityType::vencrypt)) {
        co_return fail(ServerFailure::Kind::refused,
                       "VNC server offers no TLS (VeNCrypt) although console_ca is configured",
                       "offered: " + type_list(types));
      }
      chosen = SecurityType::vencrypt;
    } else if (offers(SecurityType::none)) {
      chosen = SecurityType::none;
    } else if (offers(SecurityType::vnc_auth)) {
      if (!credentials_.password) {
        co_return fail(ServerFailure::Kind::refused,
                       "VNC server asks for a password and none is configured for its host");
      }
      chosen = SecurityType::vnc_auth;
    } else if (offers(SecurityType::vencrypt)) {
      co_return fail(ServerFailure::Kind::refused,
                     "VNC server requires TLS (VeNCrypt) and no console_ca is configured for its "
                     "host");
    } else {
      co_return fail(ServerFailure::Kind::refused,
                     "VNC server offers no security type the gateway can do (offered: " +
                         type_list(types) + ")");
    }
    const std::array<std::uint8_t, 1> choice{static_cast<std::uint8_t>(chosen)};
    if (!co_await write(choice, "security type")) co_return false;

    switch (chosen) {
      case SecurityType::none:
        security_ = "none";
        break;
      case SecurityType::vnc_auth:
        security_ = "vnc-auth";
        if (!co_await vnc_auth()) co_return false;
        break;
      case SecurityType::vencrypt:
        if (!co_await vencrypt()) co_return false;
        break;
      case SecurityType::invalid:
        co_return false;
    }
    co_return co_await security_result();
  }

  // VNC Authentication: the challenge, answered with the password.
  net::awaitable<bool> vnc_auth() {
    std::array<std::uint8_t, vnc_challenge_size> challenge{};
    if (!co_await read(challenge, "VNC authentication challenge")) co_return false;
    auto response = vnc_auth_response(*credentials_.password, challenge);
    if (!response) {
      co_return fail(ServerFailure::Kind::broken, "the gateway cannot do VNC authentication",
                     "DES-EDE3-ECB not available from OpenSSL");
    }
    const bool written = co_await write(*response, "VNC authentication response");
    password_sent_ = true;
    OPENSSL_cleanse(response->data(), response->size());
    co_return written;
  }

  // VeNCrypt 0.2 (as QEMU and others speak it): version, sub-type, then TLS on
  // the same stream and, for X509Vnc, VNC Authentication inside it.
  net::awaitable<bool> vencrypt() {
    std::array<std::uint8_t, 2> version{};
    if (!co_await read(version, "VeNCrypt version")) co_return false;
    if (version[0] != 0 || version[1] < 2) {
      co_return fail(ServerFailure::Kind::broken, "VNC server speaks an unknown VeNCrypt version",
                     "VeNCrypt " + std::to_string(version[0]) + "." + std::to_string(version[1]));
    }
    const std::array<std::uint8_t, 2> ours{0, 2};
    if (!co_await write(ours, "VeNCrypt version")) co_return false;
    std::array<std::uint8_t, 1> ack{};
    if (!co_await read(ack, "VeNCrypt version ack")) co_return false;
    if (ack[0] != 0) {
      co_return fail(ServerFailure::Kind::refused, "VNC server refused VeNCrypt 0.2");
    }
    std::array<std::uint8_t, 1> count{};
    if (!co_await read(count, "VeNCrypt sub-types")) co_return false;
    std::vector<std::uint8_t> raw(std::size_t{count[0]} * 4);
    if (!co_await read(raw, "VeNCrypt sub-types")) co_return false;
    std::vector<std::uint32_t> subtypes;
    for (std::size_t i = 0; i < raw.size(); i += 4) subtypes.push_back(be32(raw.data() + i));
    const auto offers = [&subtypes](VencryptSubtype t) {
      return std::find(subtypes.begin(), subtypes.end(), static_cast<std::uint32_t>(t)) !=
             subtypes.end();
    };
    VencryptSubtype chosen{};
    if (offers(VencryptSubtype::x509_none)) {
      chosen = VencryptSubtype::x509_none;
    } else if (offers(VencryptSubtype::x509_vnc)) {
      if (!credentials_.password) {
        co_return fail(ServerFailure::Kind::refused,
                       "VNC server asks for a password and none is configured for its host");
      }
      chosen = VencryptSubtype::x509_vnc;
    } else {
      co_return fail(ServerFailure::Kind::refused,
                     "VNC server offers no VeNCrypt sub-type the gateway can do (offered: " +
                         subtype_list(subtypes) + ")");
    }
    std::array<std::uint8_t, 4> choice{};
    put_be32(choice.data(), static_cast<std::uint32_t>(chosen));
    if (!co_await write(choice, "VeNCrypt sub-type")) co_return false;
    if (!co_await read(ack, "VeNCrypt sub-type ack")) co_return false;
    if (ack[0] != 1) {
      co_return fail(ServerFailure::Kind::refused, "VNC server refused the VeNCrypt sub-type");
    }

    auto tls = std::make_unique<console_tls::TlsClientStream>(std::move(console_), credentials_.tls,
                                                              credentials_.tls_name);
    const console_tls::HandshakeResult shaken = co_await tls->handshake();
    console_ = std::move(tls);
    tls_ = true;
    if (shaken.error || shaken.untrusted) {
      co_return fail(
          shaken.untrusted ? ServerFailure::Kind::untrusted : ServerFailure::Kind::broken,
          shaken.reason.empty() ? "TLS handshake with the VNC server failed" : shaken.reason,
          shaken.error ? shaken.error.message() : std::string());
    }
    if (chosen == VencryptSubtype::x509_vnc) {
      security_ = "vencrypt-x509-vnc";
      co_return co_await vnc_auth();
    }
    security_ = "vencrypt-x509-none";
    co_return true;
  }

  // SecurityResult: 0 is OK; otherwise a reason follows (3.8).
  net::awaitable<bool> security_result() {
    std::array<std::uint8_t, 4> result{};
    if (!co_await read(result, "security result")) {
      // QEMU with vnc_tls_x509_verify ends the TLS session without a word when
      // the client has no certificate (TLS 1.3 completes the handshake first).
      if (tls_ && !credentials_.client_certificate) {
        failure_.kind = ServerFailure::Kind::refused;
        failure_.reason =
            "VNC server ended the TLS session; it may require a client certificate (console_cert)";
      }
      co_return false;
    }
    if (be32(result.data()) == 0) co_return true;
    const auto why = co_await read_reason();
    if (password_sent_) {
      co_return fail(ServerFailure::Kind::refused, "VNC password rejected by the server",
                     why ? *why : std::string());
    }
    co_return fail(ServerFailure::Kind::refused,
                   "VNC server refused the connection" + (why ? ": " + *why : std::string()));
  }

  std::unique_ptr<stream::ByteStream> console_;
  const ServerCredentials& credentials_;
  std::string security_;
  ServerFailure failure_;
  bool tls_ = false;            // the stream is TLS now (VeNCrypt)
  bool password_sent_ = false;  // a refusal is then the password's
};

}  // namespace

net::awaitable<SecuredConsole> secure_server(std::unique_ptr<stream::ByteStream> console,
                                             const ServerCredentials& credentials) {
  ServerHandshake handshake(std::move(console), credentials);
  co_return co_await handshake.run();
}

net::awaitable<std::optional<BrowserFailure>> offer_none(stream::ByteStream& browser) {
  const auto failed = [](std::string reason) {
    return std::optional<BrowserFailure>(BrowserFailure{1002, std::move(reason)});
  };
  const auto gone = [](const error_code&) {
    return std::optional<BrowserFailure>(BrowserFailure{1000, {}});
  };
  if (const error_code ec = co_await write_all(browser, version_38)) co_return gone(ec);
  std::array<std::uint8_t, version_size> version{};
  if (const error_code ec = co_await read_exact(browser, version)) co_return gone(ec);
  const auto parsed = parse_version(version);
  if (!parsed || parsed->first != 3) co_return failed("expected an RFB 3.x client");
  if (parsed->second < 7) {
    // RFB 3.3: the server names the type (u32), no result follows for None.
    const std::array<std::uint8_t, 4> none{0, 0, 0, 1};
    if (const error_code ec = co_await write_all(browser, none)) co_return gone(ec);
    co_return std::nullopt;
  }
  const std::array<std::uint8_t, 2> offer{1, static_cast<std::uint8_t>(SecurityType::none)};
  if (const error_code ec = co_await write_all(browser, offer)) co_return gone(ec);
  std::array<std::uint8_t, 1> choice{};
  if (const error_code ec = co_await read_exact(browser, choice)) co_return gone(ec);
  if (choice[0] != static_cast<std::uint8_t>(SecurityType::none)) {
    co_return failed("RFB client chose a security type that was not offered");
  }
  // 3.7 sends no SecurityResult for None; 3.8 does.
  if (parsed->second >= 8) {
    const std::array<std::uint8_t, 4> ok{0, 0, 0, 0};
    if (const error_code ec = co_await write_all(browser, ok)) co_return gone(ec);
  }
  co_return std::nullopt;
}

net::awaitable<void> tell_failure(stream::ByteStream& browser, std::string_view reason) {
  // The version first, and the failure only after the browser's version: a
  // client (noVNC) takes one step per message it gets.
  if (co_await write_all(browser, version_38)) co_return;
  std::array<std::uint8_t, version_size> version{};
  if (co_await read_exact(browser, version)) co_return;
  const auto parsed = parse_version(version);
  // RFB 3.3 says "no security" with a u32 0; 3.7 and 3.8 with a count of 0.
  std::vector<std::uint8_t> out;
  if (parsed && parsed->first == 3 && parsed->second < 7) {
    out.assign(4, 0);
  } else {
    out.push_back(0);
  }
  const std::size_t at = out.size();
  out.resize(at + 4);
  put_be32(out.data() + at, static_cast<std::uint32_t>(reason.size()));
  out.insert(out.end(), reason.begin(), reason.end());
  co_await write_all(browser, out);
}

}  // namespace cgw::rfb
