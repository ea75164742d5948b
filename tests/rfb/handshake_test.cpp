// The RFB handshake at both ends, against a scripted peer on a UNIX socket
// pair: the security types and failures a real QEMU never offers (those QEMU
// does offer are tested end to end in tests/integration). The peer runs on
// the test's thread with blocking system calls; the gateway's side runs on an
// io_context thread of its own.
#include "rfb/handshake.hpp"

#include "rfb/vnc_auth.hpp"
#include "stream/socket_stream.hpp"
#include "tests/support/socket_peer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace cgw::rfb {
namespace {

namespace net = boost::asio;
using UnixSocket = net::local::stream_protocol::socket;
using UnixStream = stream::SocketStream<UnixSocket>;
using namespace std::chrono_literals;

const std::string v38 = "RFB 003.008\n";

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (const int b : list) out += static_cast<char>(b);
  return out;
}

std::string u32(std::uint32_t v) {
  return bytes({static_cast<int>(v >> 24), static_cast<int>((v >> 16) & 255),
                static_cast<int>((v >> 8) & 255), static_cast<int>(v & 255)});
}

std::string reason(const std::string& text) {
  return u32(static_cast<std::uint32_t>(text.size())) + text;
}

using Peer = test::SocketPeer;

// One gateway-side coroutine over one end of a socket pair.
class Rig {
 public:
  Rig() : gateway_end_(ioc_), peer_end_(ioc_) { net::local::connect_pair(gateway_end_, peer_end_); }
  ~Rig() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  Peer peer() { return Peer(peer_end_.native_handle()); }

  std::future<SecuredConsole> server(ServerCredentials credentials) {
    credentials_ = std::move(credentials);
    auto done = net::co_spawn(
        ioc_, secure_server(std::make_unique<UnixStream>(std::move(gateway_end_)), credentials_),
        net::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
    return done;
  }

  std::future<std::optional<BrowserFailure>> browser() {
    browser_ = std::make_unique<UnixStream>(std::move(gateway_end_));
    auto done = net::co_spawn(ioc_, offer_none(*browser_), net::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
    return done;
  }

  std::future<void> failure(std::string text) {
    browser_ = std::make_unique<UnixStream>(std::move(gateway_end_));
    text_ = std::move(text);
    auto done = net::co_spawn(ioc_, tell_failure(*browser_, text_), net::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
    return done;
  }

 private:
  net::io_context ioc_;
  UnixSocket gateway_end_;
  UnixSocket peer_end_;
  ServerCredentials credentials_;
  std::unique_ptr<UnixStream> browser_;
  std::string text_;
  std::thread thread_;
};

template <class T>
T finished(std::future<T>& f) {
  EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << "the handshake did not finish";
  return f.get();
}

ServerCredentials with_password(std::string p) {
  ServerCredentials c;
  c.password = std::move(p);
  return c;
}

// The server's greeting and our version, then `types`.
void greet(Peer& peer, const std::string& types) {
  peer.send(v38);
  EXPECT_EQ(peer.recv(12), v38);
  peer.send(types);
}

TEST(RfbServerHandshake, NoneIsChosenAndTheStreamIsLeftAtClientInit) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  greet(peer, bytes({2, 2, 1}));  // VNC auth and None offered: None needs nothing
  EXPECT_EQ(peer.recv(1), bytes({1}));
  peer.send(u32(0));
  SecuredConsole out = finished(done);
  ASSERT_FALSE(out.failure) << out.failure->reason;
  EXPECT_EQ(out.security, "none");
  ASSERT_TRUE(out.console);
}

TEST(RfbServerHandshake, VncAuthenticationAnswersTheChallenge) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server(with_password("gw9f3x!k"));
  greet(peer, bytes({1, 2}));
  EXPECT_EQ(peer.recv(1), bytes({2}));
  std::string challenge;
  for (int i = 0; i < 16; ++i) challenge += static_cast<char>(i);
  peer.send(challenge);
  // The DES response of vnc_auth_test's first vector.
  EXPECT_EQ(peer.recv(16), bytes({0xd5, 0x54, 0x65, 0x31, 0x66, 0x43, 0x04, 0x94, 0x34, 0x3d, 0xf4,
                                  0x33, 0xd1, 0xbd, 0x0f, 0x85}));
  peer.send(u32(0));
  SecuredConsole out = finished(done);
  ASSERT_FALSE(out.failure) << out.failure->reason;
  EXPECT_EQ(out.security, "vnc-auth");
}

TEST(RfbServerHandshake, RejectedPasswordHasItsSentence) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server(with_password("wrong"));
  greet(peer, bytes({1, 2}));
  EXPECT_EQ(peer.recv(1), bytes({2}));
  peer.send(std::string(16, 'c'));
  EXPECT_EQ(peer.recv(16).size(), 16u);
  peer.send(u32(1) + reason("Authentication failed"));
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->kind, ServerFailure::Kind::refused);
  EXPECT_EQ(out.failure->reason, "VNC password rejected by the server");
  EXPECT_EQ(out.failure->detail, "Authentication failed");
}

TEST(RfbServerHandshake, PasswordWantedButNoneConfigured) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  greet(peer, bytes({1, 2}));
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->reason,
            "VNC server asks for a password and none is configured for its host");
}

TEST(RfbServerHandshake, UnknownSecurityTypesAreNamed) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server(with_password("x"));
  greet(peer, bytes({2, 5, 16}));  // RA2 and Tight: not ours
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->kind, ServerFailure::Kind::refused);
  EXPECT_EQ(out.failure->reason,
            "VNC server offers no security type the gateway can do (offered: 5, 16)");
}

TEST(RfbServerHandshake, ServersOwnRefusalIsPassedOn) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  greet(peer, bytes({0}) + reason("Too many security failures\x01"));
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->reason, "VNC server refused the connection: Too many security failures?");
}

TEST(RfbServerHandshake, VencryptWithoutConsoleCaIsRefused) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  greet(peer, bytes({1, 19}));
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->reason,
            "VNC server requires TLS (VeNCrypt) and no console_ca is configured for its host");
}

TEST(RfbServerHandshake, OlderProtocolIsRefused) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  peer.send("RFB 003.003\n");
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->kind, ServerFailure::Kind::broken);
  EXPECT_EQ(out.failure->reason, "VNC server speaks RFB 3.3; the gateway needs 3.8");
}

TEST(RfbServerHandshake, NotAVncServer) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  peer.send("SSH-2.0-Open");
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->reason, "console is not a VNC server");
}

TEST(RfbServerHandshake, ServerGoneMidwayIsBroken) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.server({});
  peer.send(v38);
  EXPECT_EQ(peer.recv(12), v38);
  peer.close();
  SecuredConsole out = finished(done);
  ASSERT_TRUE(out.failure);
  EXPECT_EQ(out.failure->kind, ServerFailure::Kind::broken);
  EXPECT_EQ(out.failure->reason, "VNC server closed the connection during its handshake");
}

TEST(RfbBrowserHandshake, Rfb38ClientGetsNoneAndAnOkResult) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.browser();
  EXPECT_EQ(peer.recv(12), v38);
  peer.send(v38);
  EXPECT_EQ(peer.recv(2), bytes({1, 1}));
  peer.send(bytes({1}));
  EXPECT_EQ(peer.recv(4), u32(0));
  EXPECT_FALSE(finished(done).has_value());
}

TEST(RfbBrowserHandshake, Rfb33ClientIsToldNone) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.browser();
  EXPECT_EQ(peer.recv(12), v38);
  peer.send("RFB 003.003\n");
  EXPECT_EQ(peer.recv(4), u32(1));
  EXPECT_FALSE(finished(done).has_value());
}

TEST(RfbBrowserHandshake, ATypeNotOfferedIsAProtocolError) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.browser();
  EXPECT_EQ(peer.recv(12), v38);
  peer.send(v38);
  EXPECT_EQ(peer.recv(2), bytes({1, 1}));
  peer.send(bytes({2}));
  const auto failed = finished(done);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->close_code, 1002);
}

TEST(RfbBrowserHandshake, FailureIsToldToAnRfb33ClientInItsWords) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.failure("no");
  EXPECT_EQ(peer.recv(12), v38);
  peer.send("RFB 003.003\n");
  finished(done);
  EXPECT_EQ(peer.recv(4 + 4 + 2), u32(0) + reason("no"));
}

TEST(RfbBrowserHandshake, FailureIsToldInRfbWords) {
  Rig rig;
  Peer peer = rig.peer();
  auto done = rig.failure("VNC password rejected by the server");
  EXPECT_EQ(peer.recv(12), v38);
  // Nothing more until the browser's version: noVNC takes one step per message.
  peer.send(v38);
  finished(done);
  EXPECT_EQ(peer.recv(1), bytes({0}));
  EXPECT_EQ(peer.recv(4 + 35), reason("VNC password rejected by the server"));
}

}  // namespace
}  // namespace cgw::rfb
