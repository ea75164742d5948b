// Console layers: the one step between opening a console and pumping it, where
// protocol layers are put around the console's ByteStream, so the pump stays
// generic over the two streams it joins:
//
// - for SPICE, TLS to the console itself (console_tls::TlsClientStream) when
//   it listens only on its TLS port, and its ticket answered by the gateway
//   (spice/ticket.hpp) when a password is configured for it;
// - the RFB layer for VNC (rfb/handshake.hpp): the gateway completes the VNC
//   server's security (None, VNC Authentication, VeNCrypt X.509) and offers
//   the browser None, so passwords and keys stay on the gateway;
// - the view-only filter (rfb::ViewOnlyStream) for a token with view_only.
//
// The same layers go around every path (TCP, UNIX socket, SSH channel).
#pragma once

#include "gateway/authorize.hpp"
#include "gateway/outcome.hpp"
#include "stream/byte_stream.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace cgw::gateway {

struct LayeredConsole {
  std::unique_ptr<stream::ByteStream> console;  // null when refused or the browser left
  // Why the console cannot be used (the browser is told, and the log).
  std::optional<Refused> refused;
  // The browser broke off or broke the handshake: the session ends with this,
  // and no console refusal is logged.
  std::optional<stream::EndReason> browser_ended;
  std::string security;  // what the layers did, for the log ("rfb=vnc-auth", "tls")
};

// Called on the session's thread, once per console, after it was opened.
// `browser` is the browser's end (the RFB handshake's other side); `limit`
// bounds each side's handshake.
boost::asio::awaitable<LayeredConsole> layer_console(stream::ByteStream& browser,
                                                     std::unique_ptr<stream::ByteStream> console,
                                                     const ConsoleTarget& target,
                                                     std::chrono::milliseconds limit);

// The name a console's certificate must carry: console_tls_name, else the
// host's address, else the host's name in its URI, else the address the
// console listens on.
std::string console_tls_name(const ConsoleTarget& target);

}  // namespace cgw::gateway
