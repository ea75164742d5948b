// The server's side of the WebSocket opening handshake (RFC 6455 §4.2); the
// frames that follow are ours too (websocket/ws_stream.hpp), over ws and wss.
#pragma once

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace cgw::websocket {

using UpgradeRequest = boost::beast::http::request<boost::beast::http::empty_body>;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC GUID)).
std::string websocket_accept_key(std::string_view key);

// The refusal for an upgrade request we cannot accept (a version other than 13:
// 426 naming 13; a missing or malformed key: 400), or nullopt when it is fine.
// The request is already known to be an upgrade (beast::websocket::is_upgrade).
std::optional<boost::beast::http::response<boost::beast::http::string_body>> handshake_refusal(
    const UpgradeRequest& req);

// 101 Switching Protocols, choosing the "binary" subprotocol when offered.
boost::beast::http::response<boost::beast::http::empty_body> switching_protocols(
    const UpgradeRequest& req);

// Whether a Sec-WebSocket-Protocol header offers "binary".
bool offers_binary(std::string_view header);

}  // namespace cgw::websocket
