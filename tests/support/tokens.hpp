// Tokens for the tests' gateways, minted as a token service would (token/),
// and a WebSocket to the console a token names.
#pragma once

#include "tests/support/echo_console.hpp"
#include "tests/support/ws_client.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace cgw::test {

// A token for domain `uuid` on host `host_id` (by default the echo console on
// "fake"), signed with the key in `key_file`.
std::string mint_token(const std::string& key_file, const std::string& host_id = "fake",
                       const std::string& uuid = kEchoUuid);

// A WebSocket to /websockify?token=`token` on the plain port `port`.
std::unique_ptr<WsClient> console_client(std::uint16_t port, const std::string& token);

}  // namespace cgw::test
