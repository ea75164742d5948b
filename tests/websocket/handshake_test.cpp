// The server's side of the WebSocket opening handshake: the accept key (RFC
// 6455's own example), the refusals (426 naming version 13, 400 for a bad key),
// the 101 and its subprotocol, and the 101 as a client parses it off a real
// loopback socket.
#include "websocket/handshake.hpp"

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cgw {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using boost::system::error_code;
using websocket::UpgradeRequest;
using namespace std::chrono_literals;

constexpr std::string_view rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view rfc_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// An upgrade request as a browser sends it; `version`/`key` left out when empty.
UpgradeRequest upgrade_request(std::string_view version = "13", std::string_view key = rfc_key,
                               std::string_view protocols = {}) {
  UpgradeRequest req{http::verb::get, "/websockify", 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  if (!version.empty()) req.set(http::field::sec_websocket_version, version);
  if (!key.empty()) req.set(http::field::sec_websocket_key, key);
  if (!protocols.empty()) req.set(http::field::sec_websocket_protocol, protocols);
  return req;
}

TEST(WebsocketAcceptKey, MatchesTheRfcExample) {
  EXPECT_EQ(websocket::websocket_accept_key(rfc_key), rfc_accept);
}

TEST(WebsocketAcceptKey, DependsOnTheKey) {
  const std::string other = websocket::websocket_accept_key("AAAAAAAAAAAAAAAAAAAAAA==");
  EXPECT_NE(other, rfc_accept);
  EXPECT_EQ(other.size(), 28u);  // base64 of a 20-byte SHA-1
}

TEST(HandshakeRefusal, AcceptsAVersion13RequestWithAGoodKey) {
  EXPECT_FALSE(websocket::handshake_refusal(upgrade_request()).has_value());
  EXPECT_FALSE(
      websocket::handshake_refusal(upgrade_request("13", "AAAAAAAAAAAAAAAAAAAAAA==")).has_value());
  EXPECT_FALSE(
      websocket::handshake_refusal(upgrade_request("13", "abcXYZ019+/abcXYZ019+/==")).has_value());
}

TEST(HandshakeRefusal, AnotherVersionIs426Naming13) {
  for (const std::string_view version : {"8", "12", "14", "13, 8", ""}) {
    const auto refusal = websocket::handshake_refusal(upgrade_request(version));
    ASSERT_TRUE(refusal.has_value()) << "version '" << version << "'";
    EXPECT_EQ(refusal->result(), http::status::upgrade_required) << version;
    EXPECT_EQ((*refusal)[http::field::sec_websocket_version], "13") << version;
    EXPECT_EQ(refusal->body(), "WebSocket version 13 required\n");
    EXPECT_FALSE(refusal->keep_alive());
    EXPECT_EQ((*refusal)[http::field::content_length], std::to_string(refusal->body().size()));
  }
}

TEST(HandshakeRefusal, AMissingOrMalformedKeyIs400) {
  const std::string_view keys[] = {
      "",                             // missing
      "dGhlIHNhbXBsZSBub25jZQ=",      // too short
      "dGhlIHNhbXBsZSBub25jZQ===",    // too long
      "dGhlIHNhbXBsZSBub25jZQAA",     // no padding
      "dGhlIHNhbXBsZSBub25jZ===",     // three '='
      "dGhlIHNhbXBsZSBub25jZ-==",     // base64url, not base64
      "dGhlIHNhbXBsZSBub25j ZQ==",    // a space (and too long)
      "dGhlIHNhbXBsZSBub25j_Q==",     // base64url
      "dGhlIHNhbXBsZSBub25jZ\x01==",  // a control character
  };
  for (const std::string_view key : keys) {
    const auto refusal = websocket::handshake_refusal(upgrade_request("13", key));
    ASSERT_TRUE(refusal.has_value()) << "key '" << key << "'";
    EXPECT_EQ(refusal->result(), http::status::bad_request) << key;
    EXPECT_EQ(refusal->body(), "bad Sec-WebSocket-Key\n");
    EXPECT_FALSE(refusal->keep_alive());
  }
}

TEST(HandshakeRefusal, TheVersionIsCheckedBeforeTheKey) {
  const auto refusal = websocket::handshake_refusal(upgrade_request("12", ""));
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->result(), http::status::upgrade_required);
}

TEST(HandshakeRefusal, AnswersInTheRequestsHttpVersion) {
  UpgradeRequest req = upgrade_request("12");
  req.version(10);
  const auto refusal = websocket::handshake_refusal(req);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->version(), 10u);
}

TEST(SwitchingProtocols, Is101WithTheUpgradeHeaders) {
  const auto res = websocket::switching_protocols(upgrade_request());
  EXPECT_EQ(res.result(), http::status::switching_protocols);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_EQ(res[http::field::upgrade], "websocket");
  EXPECT_EQ(res[http::field::connection], "Upgrade");
  EXPECT_EQ(res[http::field::sec_websocket_accept], rfc_accept);
  EXPECT_EQ(res.count(http::field::sec_websocket_protocol), 0u);
}

TEST(SwitchingProtocols, ChoosesBinaryOnlyWhenOffered) {
  struct Case {
    std::string_view offered;
    bool chosen;
  };
  const Case cases[] = {
      {"binary", true},  {"base64, binary", true}, {"binary, base64", true},
      {"base64", false}, {"binaryx", false},       {"chat", false},
  };
  for (const Case& c : cases) {
    const auto res = websocket::switching_protocols(upgrade_request("13", rfc_key, c.offered));
    if (c.chosen) {
      EXPECT_EQ(res[http::field::sec_websocket_protocol], "binary") << c.offered;
    } else {
      EXPECT_EQ(res.count(http::field::sec_websocket_protocol), 0u) << c.offered;
    }
  }
}

TEST(OffersBinary, FindsTheTokenInTheList) {
  struct Case {
    std::string_view header;
    bool offered;
  };
  const Case cases[] = {
      {"binary", true},
      {" binary ", true},
      {"base64, binary", true},
      {"binary,base64", true},
      {"base64,binary", true},
      {"a, b,  binary  , c", true},
      {",,binary", true},
      {"binary,", true},
      {"", false},
      {"base64", false},
      {"binaryx", false},
      {"xbinary", false},
      {"bin ary", false},
      {"Binary", false},  // subprotocol tokens are case-sensitive
      {"binary-v2", false},
      {",", false},
      {"  ", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(websocket::offers_binary(c.header), c.offered) << "'" << c.header << "'";
  }
}

// --- Over a socket --------------------------------------------------------------------

net::awaitable<error_code> write_response(tcp::socket& socket,
                                          http::response<http::empty_body> res) {
  auto [ec, n] = co_await http::async_write(socket, res, net::as_tuple(net::use_awaitable));
  (void)n;
  co_return ec;
}

TEST(SwitchingProtocols, AClientParsesItOffTheSocket) {
  net::io_context ioc;
  tcp::acceptor acceptor(ioc, {net::ip::make_address("127.0.0.1"), 0});
  tcp::socket client(ioc);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();

  auto written = std::make_shared<std::optional<error_code>>();
  net::co_spawn(ioc,
                write_response(server, websocket::switching_protocols(
                                           upgrade_request("13", rfc_key, "base64, binary"))),
                [written](std::exception_ptr e, error_code ec) {
                  if (e) std::rethrow_exception(e);
                  *written = ec;
                });
  ioc.run_for(10s);
  ASSERT_TRUE(written->has_value()) << "the response was not written";
  ASSERT_FALSE(**written) << (*written)->message();
  // Nothing follows (the frames would): the FIN makes a parser that wanted a
  // body end instead of waiting.
  server.shutdown(tcp::socket::shutdown_send);

  boost::beast::flat_buffer buffer;
  http::response<http::empty_body> res;
  error_code ec;
  http::read(client, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result(), http::status::switching_protocols);
  EXPECT_EQ(res.version(), 11u);
  EXPECT_TRUE(boost::beast::iequals(res[http::field::upgrade], "websocket"));
  EXPECT_TRUE(boost::beast::iequals(res[http::field::connection], "upgrade"));
  EXPECT_EQ(res[http::field::sec_websocket_accept], rfc_accept);
  EXPECT_EQ(res[http::field::sec_websocket_protocol], "binary");
  EXPECT_EQ(buffer.size(), 0u) << "bytes after the response";
}

}  // namespace
}  // namespace cgw
