// The SPICE ticket, answered by the gateway on the browser's behalf.
//
// A SPICE server with a password (`<graphics type='spice' passwd='…'>`) asks
// for a ticket on every channel connection: after the link messages (the
// client's SpiceLinkHeader + SpiceLinkMess, the server's SpiceLinkHeader +
// SpiceLinkReply carrying an RSA-1024 public key) the client sends the auth
// mechanism (when both sides have PROTOCOL_AUTH_SELECTION) and 128 bytes: the
// password, NUL-terminated, RSA-OAEP(SHA-1)-encrypted with that key. The
// server answers a u32 link result.
//
// answer_ticket() relays the link messages between the browser and the
// console, and replaces the browser's ticket (spice-html5 has no password, so
// it encrypts an empty one) with the gateway's encryption of the real
// password. The link result is read, passed on to the browser, and judged; the
// stream is then at the channel's first message, and everything after is the
// pump's. Each SPICE channel is its own connection and needs its own call.
//
// Runs on the session's thread; the streams and `password` must outlive the
// call. It has no time limit of its own: the caller aborts the streams when
// its limit passes. A reason or detail never contains the password or the
// ticket.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::spice {

// SpiceLinkErr (spice-protocol's enums.h): the reply's error and the link result.
enum class LinkError : std::uint32_t {
  ok = 0,
  error = 1,
  invalid_magic = 2,
  invalid_data = 3,
  version_mismatch = 4,
  need_secured = 5,
  need_unsecured = 6,
  permission_denied = 7,
  bad_connection_id = 8,
  channel_not_available = 9,
};

struct TicketFailure {
  enum class Kind {
    refused,  // the server said no: an error in its reply, or in the link result
    broken,   // the server closed, or spoke something other than the SPICE link protocol
    browser,  // the browser closed, or sent something other than a SPICE link
  };
  Kind kind = Kind::broken;
  std::string reason;  // for the browser: a sentence
  std::string detail;  // for the log only
  // The server's error code when it gave one (kind refused): it was passed on
  // to the browser, in the reply or as the link result.
  std::optional<LinkError> server_error;
};

// The link handshake of one SPICE channel, with `password` as the ticket.
// nullopt: the server accepted it, its OK went to the browser, and both
// streams are at the channel's messages. On failure nothing is closed; what
// the server said was passed on to the browser as far as it got.
boost::asio::awaitable<std::optional<TicketFailure>> answer_ticket(stream::ByteStream& browser,
                                                                   stream::ByteStream& console,
                                                                   std::string_view password);

}  // namespace cgw::spice
