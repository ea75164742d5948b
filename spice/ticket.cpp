#include "spice/ticket.hpp"

#include "stream/exact_io.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace cgw::spice {
namespace {

namespace net = boost::asio;
using stream::error_code;

// spice-protocol's protocol.h. Everything on the wire is little-endian.
constexpr std::array<std::uint8_t, 4> magic{'R', 'E', 'D', 'Q'};
constexpr std::uint32_t version_major = 2;
constexpr std::size_t header_size = 16;       // SpiceLinkHeader
constexpr std::size_t link_mess_size = 18;    // SpiceLinkMess before its caps
constexpr std::size_t pubkey_size = 162;      // SPICE_TICKET_PUBKEY_BYTES: RSA-1024 SPKI DER
constexpr std::size_t link_reply_size = 178;  // SpiceLinkReply before its caps
constexpr std::size_t ticket_size = 128;      // SPICE_TICKET_KEY_PAIR_LENGTH / 8
constexpr std::size_t max_password = 60;      // SPICE_MAX_PASSWORD_LENGTH
constexpr std::uint32_t cap_auth_selection = 1u << 0;  // SPICE_COMMON_CAP_PROTOCOL_AUTH_SELECTION
constexpr std::uint32_t auth_spice = 1;                // SPICE_COMMON_CAP_AUTH_SPICE
constexpr std::uint32_t auth_sasl = 2;                 // SPICE_COMMON_CAP_AUTH_SASL
// A link message or reply is a few dozen bytes and a few capability words;
// anything larger is not one.
constexpr std::uint32_t max_link_size = 4096;

using stream::read_exact;
using stream::write_all;

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

// A link header: its magic and major version are SPICE 2's, and the size of
// what follows is within [min_size, max_link_size]. nullopt when not.
std::optional<std::uint32_t> link_size(std::span<const std::uint8_t> header, std::size_t min_size) {
  if (std::memcmp(header.data(), magic.data(), magic.size()) != 0) return std::nullopt;
  if (le32(header.data() + 4) != version_major) return std::nullopt;
  const std::uint32_t size = le32(header.data() + 12);
  if (size < min_size || size > max_link_size) return std::nullopt;
  return size;
}

// The first common capability word of a link message or reply (`body` is what
// follows the header; the counts and the offset are at `counts_at`, the offset
// relative to `body`). nullopt when the capabilities lie outside `body`.
std::optional<std::uint32_t> common_caps(std::span<const std::uint8_t> body, std::size_t counts_at,
                                         std::size_t fixed_size) {
  const std::uint64_t common = le32(body.data() + counts_at);
  const std::uint64_t channel = le32(body.data() + counts_at + 4);
  const std::uint64_t offset = le32(body.data() + counts_at + 8);
  if (offset < fixed_size || offset + 4 * (common + channel) > body.size()) return std::nullopt;
  return common == 0 ? 0 : le32(body.data() + offset);
}

std::string error_name(std::uint32_t code) {
  switch (static_cast<LinkError>(code)) {
    case LinkError::ok:
      return "ok";
    case LinkError::error:
      return "error";
    case LinkError::invalid_magic:
      return "invalid magic";
    case LinkError::invalid_data:
      return "invalid data";
    case LinkError::version_mismatch:
      return "version mismatch";
    case LinkError::need_secured:
      return "this channel needs TLS";
    case LinkError::need_unsecured:
      return "this channel needs no TLS";
    case LinkError::permission_denied:
      return "permission denied";
    case LinkError::bad_connection_id:
      return "bad connection id";
    case LinkError::channel_not_available:
      return "channel not available";
  }
  return "error " + std::to_string(code);
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};

// The ticket as spice-gtk and spice-html5 make it: the password and its NUL,
// RSA-OAEP with SHA-1 (and MGF1-SHA-1) under the server's key. A plain
// function: the key and context never live in a coroutine frame. Returns an
// empty string on success, else why not (no secret in it).
std::string encrypt_ticket(std::span<const std::uint8_t, pubkey_size> spki,
                           std::string_view password,
                           std::array<std::uint8_t, ticket_size>& ticket) {
  const unsigned char* p = spki.data();
  const std::unique_ptr<EVP_PKEY, PkeyFree> key(d2i_PUBKEY(nullptr, &p, spki.size()));
  if (!key || !EVP_PKEY_is_a(key.get(), "RSA") ||
      EVP_PKEY_get_size(key.get()) != static_cast<int>(ticket_size)) {
    return "the reply's public key is not an RSA-1024 SubjectPublicKeyInfo";
  }
  const std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha1()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha1()) <= 0) {
    return "OpenSSL cannot do RSA-OAEP with SHA-1";
  }
  std::array<std::uint8_t, max_password + 1> plain{};
  std::memcpy(plain.data(), password.data(), password.size());  // the NUL is already there
  std::size_t out = ticket.size();
  const int done =
      EVP_PKEY_encrypt(ctx.get(), ticket.data(), &out, plain.data(), password.size() + 1);
  OPENSSL_cleanse(plain.data(), plain.size());
  if (done <= 0 || out != ticket.size()) return "RSA-OAEP encryption of the ticket failed";
  return {};
}

// One channel's link handshake: both streams, and the first failure met.
class LinkRelay {
 public:
  LinkRelay(stream::ByteStream& browser, stream::ByteStream& console, std::string_view password)
      : browser_(browser), console_(console), password_(password) {}

  net::awaitable<std::optional<TicketFailure>> run() {
    std::optional<TicketFailure> out;
    if (!co_await relay()) out = std::move(failure_);
    co_return out;
  }

 private:
  using Kind = TicketFailure::Kind;

  bool fail(Kind kind, std::string reason, std::string detail = {}) {
    failure_.kind = kind;
    failure_.reason = std::move(reason);
    failure_.detail = std::move(detail);
    return false;
  }

  bool refused(std::uint32_t code, std::string reason, std::string_view where) {
    failure_.server_error = static_cast<LinkError>(code);
    return fail(Kind::refused, std::move(reason),
                std::string(where) + ": " + std::to_string(code) + " (" + error_name(code) + ")");
  }

  net::awaitable<bool> from_browser(std::span<std::uint8_t> buf, std::string_view what) {
    if (const error_code ec = co_await read_exact(browser_, buf)) {
      co_return fail(Kind::browser, "the browser closed the connection during the SPICE link",
                     std::string(what) + ": " + ec.message());
    }
    co_return true;
  }
  net::awaitable<bool> to_browser(std::span<const std::uint8_t> buf, std::string_view what) {
    if (const error_code ec = co_await write_all(browser_, buf)) {
      co_return fail(Kind::browser, "the browser closed the connection during the SPICE link",
                     std::string(what) + ": " + ec.message());
    }
    co_return true;
  }
  net::awaitable<bool> from_console(std::span<std::uint8_t> buf, std::string_view what) {
    if (const error_code ec = co_await read_exact(console_, buf)) {
      co_return fail(Kind::broken, "SPICE server closed the connection during its link",
                     std::string(what) + ": " + ec.message());
    }
    co_return true;
  }
  net::awaitable<bool> to_console(std::span<const std::uint8_t> buf, std::string_view what) {
    if (const error_code ec = co_await write_all(console_, buf)) {
      co_return fail(Kind::broken, "SPICE server closed the connection during its link",
                     std::string(what) + ": " + ec.message());
    }
    co_return true;
  }

  net::awaitable<bool> relay() {
    // The browser's link message, whole, before anything reaches the server:
    // its size is bounded and its capabilities must lie inside it.
    std::vector<std::uint8_t> mess(header_size);
    if (!co_await from_browser(mess, "link header")) co_return false;
    const auto mess_size = link_size(mess, link_mess_size);
    if (!mess_size) {
      co_return fail(Kind::browser, "the browser did not send a SPICE link message",
                     "bad magic, version or size in the link header");
    }
    mess.resize(header_size + *mess_size);
    const std::span<std::uint8_t> mess_body(mess.data() + header_size, *mess_size);
    if (!co_await from_browser(mess_body, "link message")) co_return false;
    const auto browser_caps = common_caps(mess_body, 6, link_mess_size);
    if (!browser_caps) {
      co_return fail(Kind::browser, "the browser sent a malformed SPICE link message",
                     "capabilities outside the link message");
    }
    if (!co_await to_console(mess, "link message")) co_return false;

    // The server's reply goes to the browser as it is, error or not.
    std::vector<std::uint8_t> reply(header_size);
    if (!co_await from_console(reply, "link reply header")) co_return false;
    const auto reply_size = link_size(reply, 4);
    if (!reply_size) {
      co_return fail(Kind::broken, "console is not a SPICE server",
                     "bad magic, version or size in the link reply header");
    }
    reply.resize(header_size + *reply_size);
    const std::span<std::uint8_t> reply_body(reply.data() + header_size, *reply_size);
    if (!co_await from_console(reply_body, "link reply")) co_return false;
    const std::uint32_t reply_error = le32(reply_body.data());
    std::optional<std::uint32_t> server_caps;
    if (reply_error == 0 && reply_body.size() >= link_reply_size) {
      server_caps = common_caps(reply_body, 4 + pubkey_size, link_reply_size);
    }
    if (reply_error == 0 && !server_caps) {
      co_return fail(Kind::broken, "SPICE server sent a malformed link reply",
                     "reply too short or capabilities outside it");
    }
    if (!co_await to_browser(reply, "link reply")) co_return false;
    if (reply_error != 0) {
      co_return refused(reply_error, "SPICE server refused the link: " + error_name(reply_error),
                        "link reply error");
    }

    // What the browser answers: the mechanism when both sides can select one,
    // then its ticket, which is dropped unread.
    const bool selection =
        (*browser_caps & cap_auth_selection) && (*server_caps & cap_auth_selection);
    std::vector<std::uint8_t> answer(selection ? 4 : 0);
    if (selection) {
      if (!co_await from_browser(answer, "auth mechanism")) co_return false;
      const std::uint32_t mechanism = le32(answer.data());
      if (mechanism == auth_sasl) {
        co_return fail(Kind::browser,
                       "SPICE SASL authentication is not available through the gateway",
                       "the browser chose SASL");
      }
      if (mechanism != auth_spice) {
        co_return fail(Kind::browser, "the browser chose an unknown SPICE authentication",
                       "auth mechanism " + std::to_string(mechanism));
      }
    }
    std::array<std::uint8_t, ticket_size> dropped{};
    if (!co_await from_browser(dropped, "ticket")) co_return false;

    if (password_.size() > max_password) {
      co_return fail(Kind::refused, "the gateway's SPICE password is longer than SPICE allows",
                     "more than 60 characters");
    }
    std::array<std::uint8_t, ticket_size> ticket{};
    const std::span<const std::uint8_t, pubkey_size> key(reply_body.data() + 4, pubkey_size);
    if (const std::string why = encrypt_ticket(key, password_, ticket); !why.empty()) {
      co_return fail(Kind::broken, "the gateway cannot make a SPICE ticket for this server", why);
    }
    answer.insert(answer.end(), ticket.begin(), ticket.end());
    if (!co_await to_console(answer, "ticket")) co_return false;

    // The link result, read here so that a refusal has its own sentence; the
    // browser gets it either way.
    std::array<std::uint8_t, 4> result{};
    if (!co_await from_console(result, "link result")) co_return false;
    if (!co_await to_browser(result, "link result")) co_return false;
    const std::uint32_t code = le32(result.data());
    if (code == 0) co_return true;
    if (code == static_cast<std::uint32_t>(LinkError::permission_denied)) {
      co_return refused(code, "SPICE password rejected by the server", "link result");
    }
    co_return refused(code, "SPICE server refused the link: " + error_name(code), "link result");
  }

  stream::ByteStream& browser_;
  stream::ByteStream& console_;
  std::string_view password_;
  TicketFailure failure_;
};

}  // namespace

net::awaitable<std::optional<TicketFailure>> answer_ticket(stream::ByteStream& browser,
                                                           stream::ByteStream& console,
                                                           std::string_view password) {
  LinkRelay relay(browser, console, password);
  co_return co_await relay.run();
}

}  // namespace cgw::spice
