// The browser's side of the RFB handshake through the gateway, as noVNC does
// it: the gateway offers None (1) and nothing else, whatever the server asked
// of the gateway; then ClientInit, and the real server's ServerInit.
#pragma once

#include "tests/support/ws_client.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace cgw::test {

inline const std::string kRfbVersion = "RFB 003.008\n";

// What the server said after the handshake (RFB ServerInit).
struct ServerInit {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::string name;
};

// Completes the handshake with gtest expectations on each step.
ServerInit rfb_connect(WsClient& client);

// The browser's side when the gateway cannot complete the server's security:
// the version, zero security types and the reason, then the close frame.
std::pair<std::string, CloseFrame> rfb_refused(WsClient& client);

// Types `text` (printable ASCII, '\n' for Return) in RFB KeyEvents as a browser
// client does on a US keyboard: each key down then up, inside Shift_L down/up
// for the characters typed with Shift.
void rfb_type(WsClient& client, std::string_view text);

}  // namespace cgw::test
