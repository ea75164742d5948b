// The SPICE link handshake with the gateway's ticket, between a scripted
// browser and a scripted server on UNIX socket pairs. The server has a real
// RSA-1024 key and decrypts the ticket it is sent. The peers run on the test's
// thread with blocking system calls; the gateway runs on an io_context thread
// of its own. (The same against a real QEMU is tests/integration.)
#include "spice/ticket.hpp"

#include "stream/socket_stream.hpp"
#include "tests/support/socket_peer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

namespace cgw::spice {
namespace {

namespace net = boost::asio;
using UnixSocket = net::local::stream_protocol::socket;
using UnixStream = stream::SocketStream<UnixSocket>;
using namespace std::chrono_literals;

constexpr std::string_view kPassword = "s3cr3tGW";
constexpr std::uint32_t kAuthSelection = 1u << 0;
constexpr std::uint32_t kAuthSpice = 1u << 1;
constexpr std::uint32_t kMiniHeader = 1u << 3;

std::string u32(std::uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::string header(std::uint32_t size) { return "REDQ" + u32(2) + u32(2) + u32(size); }

// A SpiceLinkMess for the main channel as spice-html5 sends it: its common
// caps, and one channel cap word (AGENT_CONNECTED_TOKENS).
std::string link_mess(std::uint32_t common_caps) {
  std::string body = u32(0);  // connection_id
  body.push_back(1);          // channel_type: main
  body.push_back(0);          // channel_id
  body += u32(1) + u32(1) + u32(18) + u32(common_caps) + u32(1u << 2);
  return header(static_cast<std::uint32_t>(body.size())) + body;
}

// The server's key: a real RSA-1024 pair, made once.
class ServerKey {
 public:
  ServerKey() : key_(EVP_RSA_gen(1024), EVP_PKEY_free) {
    unsigned char* der = nullptr;
    const int n = i2d_PUBKEY(key_.get(), &der);
    spki_.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
  }
  const std::string& spki() const { return spki_; }

  // The ticket as the server reads it: RSA-OAEP (SHA-1), as spice-server does.
  std::string decrypt(const std::string& ticket) const {
    const std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(key_.get(), nullptr), EVP_PKEY_CTX_free);
    EXPECT_GT(EVP_PKEY_decrypt_init(ctx.get()), 0);
    EXPECT_GT(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 0);
    std::string out(128, '\0');
    std::size_t n = out.size();
    if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &n,
                         reinterpret_cast<const unsigned char*>(ticket.data()),
                         ticket.size()) <= 0) {
      return "(does not decrypt)";
    }
    out.resize(n);
    return out;
  }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
  std::string spki_;
};

const ServerKey& server_key() {
  static const ServerKey key;
  return key;
}

// A SpiceLinkReply: error, key, caps counts and offset, one common cap word.
std::string link_reply(std::uint32_t error, std::uint32_t common_caps,
                       const std::string& spki = server_key().spki()) {
  std::string body = u32(error) + spki + u32(1) + u32(0) + u32(178) + u32(common_caps);
  return header(static_cast<std::uint32_t>(body.size())) + body;
}

using Peer = test::SocketPeer;

// answer_ticket() between two socket pairs: a browser's and a console's.
class Rig {
 public:
  Rig() : gateway_browser_(ioc_), browser_end_(ioc_), gateway_console_(ioc_), console_end_(ioc_) {
    net::local::connect_pair(gateway_browser_, browser_end_);
    net::local::connect_pair(gateway_console_, console_end_);
  }
  ~Rig() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  Peer browser() { return Peer(browser_end_.native_handle()); }
  Peer server() { return Peer(console_end_.native_handle()); }

  std::future<std::optional<TicketFailure>> start(std::string password) {
    password_ = std::move(password);
    browser_ = std::make_unique<UnixStream>(std::move(gateway_browser_));
    console_ = std::make_unique<UnixStream>(std::move(gateway_console_));
    auto done =
        net::co_spawn(ioc_, answer_ticket(*browser_, *console_, password_), net::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
    return done;
  }

 private:
  net::io_context ioc_;
  UnixSocket gateway_browser_;
  UnixSocket browser_end_;
  UnixSocket gateway_console_;
  UnixSocket console_end_;
  std::string password_;
  std::unique_ptr<UnixStream> browser_;
  std::unique_ptr<UnixStream> console_;
  std::thread thread_;
};

std::optional<TicketFailure> finished(std::future<std::optional<TicketFailure>>& f) {
  EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << "the link did not finish";
  return f.get();
}

// What spice-html5 sends for a ticket: an empty password, NUL-terminated,
// encrypted with the server's key; here any 128 bytes will do.
const std::string kBrowserTicket(128, '\x5a');

// The link message and the reply, each relayed unchanged.
void link_up(Peer& browser, Peer& server, std::uint32_t browser_caps, std::uint32_t server_caps) {
  browser.send(link_mess(browser_caps));
  EXPECT_EQ(server.recv(link_mess(browser_caps).size()), link_mess(browser_caps));
  server.send(link_reply(0, server_caps));
  EXPECT_EQ(browser.recv(link_reply(0, server_caps).size()), link_reply(0, server_caps));
}

const std::string kWithNul = std::string(kPassword) + '\0';

TEST(SpiceTicket, ServerKeyIsTheSizeOfSpiceProtocols) {
  EXPECT_EQ(server_key().spki().size(), 162u);
}

TEST(SpiceTicket, WithAuthSelectionTheMechanismPassesAndTheTicketIsTheGatewaysOwn) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  const std::uint32_t caps = kAuthSelection | kAuthSpice | kMiniHeader;
  link_up(browser, server, kAuthSelection | kMiniHeader, caps);
  browser.send(u32(1) + kBrowserTicket);
  EXPECT_EQ(server.recv(4), u32(1)) << "SPICE_COMMON_CAP_AUTH_SPICE";
  const std::string ticket = server.recv(128);
  ASSERT_EQ(ticket.size(), 128u);
  EXPECT_NE(ticket, kBrowserTicket);
  EXPECT_EQ(server_key().decrypt(ticket), kWithNul);
  server.send(u32(0));
  EXPECT_EQ(browser.recv(4), u32(0));
  EXPECT_EQ(finished(done), std::nullopt);
  // The channel's messages are the pump's: nothing more was read or sent.
  server.send("channel");
  EXPECT_EQ(browser.pending(), "");
}

TEST(SpiceTicket, WithoutAuthSelectionOnlyTheTicketIsSent) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  link_up(browser, server, kMiniHeader, kAuthSelection | kAuthSpice | kMiniHeader);
  browser.send(kBrowserTicket);
  const std::string ticket = server.recv(128);
  EXPECT_EQ(server_key().decrypt(ticket), kWithNul);
  server.send(u32(0));
  EXPECT_EQ(browser.recv(4), u32(0));
  EXPECT_EQ(finished(done), std::nullopt);
}

TEST(SpiceTicket, AServerWithoutAuthSelectionGetsNoMechanism) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  link_up(browser, server, kAuthSelection | kMiniHeader, kMiniHeader);
  browser.send(kBrowserTicket);
  EXPECT_EQ(server_key().decrypt(server.recv(128)), kWithNul);
  server.send(u32(0));
  EXPECT_EQ(browser.recv(4), u32(0));
  EXPECT_EQ(finished(done), std::nullopt);
}

TEST(SpiceTicket, AnEmptyPasswordIsJustItsNul) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start("");
  link_up(browser, server, kAuthSelection, kAuthSelection | kAuthSpice);
  browser.send(u32(1) + kBrowserTicket);
  EXPECT_EQ(server.recv(4), u32(1));
  EXPECT_EQ(server_key().decrypt(server.recv(128)), std::string(1, '\0'));
  server.send(u32(0));
  EXPECT_EQ(finished(done), std::nullopt);
}

TEST(SpiceTicket, PermissionDeniedIsAWrongPasswordAndTheBrowserHearsIt) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start("wrong");
  link_up(browser, server, kAuthSelection, kAuthSelection | kAuthSpice);
  browser.send(u32(1) + kBrowserTicket);
  EXPECT_EQ(server.recv(132).size(), 132u);
  server.send(u32(7));
  EXPECT_EQ(browser.recv(4), u32(7));
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::refused);
  EXPECT_EQ(failure->reason, "SPICE password rejected by the server");
  EXPECT_EQ(failure->server_error, LinkError::permission_denied);
  EXPECT_EQ(failure->detail.find("wrong"), std::string::npos) << "no password in the log";
}

TEST(SpiceTicket, AnotherLinkResultIsARefusalWithItsName) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  link_up(browser, server, 0, 0);
  browser.send(kBrowserTicket);
  EXPECT_EQ(server.recv(128).size(), 128u);
  server.send(u32(9));
  EXPECT_EQ(browser.recv(4), u32(9));
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::refused);
  EXPECT_EQ(failure->reason, "SPICE server refused the link: channel not available");
}

TEST(SpiceTicket, AnErrorInTheReplyIsPassedThroughAndNoTicketIsSent) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  browser.send(link_mess(kAuthSelection));
  EXPECT_EQ(server.recv(link_mess(kAuthSelection).size()), link_mess(kAuthSelection));
  // spice-server's reds_send_link_error: a whole reply, the key all zeros.
  const std::string refusal = link_reply(5, 0, std::string(162, '\0'));
  server.send(refusal);
  EXPECT_EQ(browser.recv(refusal.size()), refusal);
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::refused);
  EXPECT_EQ(failure->server_error, LinkError::need_secured);
  EXPECT_EQ(failure->reason, "SPICE server refused the link: this channel needs TLS");
  browser.send(u32(1) + kBrowserTicket);
  EXPECT_EQ(server.pending(), "");
}

TEST(SpiceTicket, AnOversizedLinkMessageIsRefusedBeforeTheServerSeesIt) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  browser.send(header(5000) + std::string(64, '\0'));
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::browser);
  EXPECT_EQ(failure->reason, "the browser did not send a SPICE link message");
  EXPECT_EQ(server.pending(), "");
}

TEST(SpiceTicket, GarbageIsNotALinkMessage) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  browser.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::browser);
  EXPECT_EQ(server.pending(), "");
}

TEST(SpiceTicket, CapabilitiesOutsideTheLinkMessageAreRefused) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  std::string body = u32(0) + std::string("\x01\x00", 2) + u32(0x40000000) + u32(0) + u32(18);
  browser.send(header(static_cast<std::uint32_t>(body.size())) + body);
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::browser);
  EXPECT_EQ(failure->reason, "the browser sent a malformed SPICE link message");
  EXPECT_EQ(server.pending(), "");
}

TEST(SpiceTicket, AnOversizedOrForeignReplyIsBroken) {
  for (const std::string& reply :
       {header(100000) + std::string(16, '\0'), std::string("RFB 003.008\n") + "xxxx"}) {
    Rig rig;
    Peer browser = rig.browser();
    Peer server = rig.server();
    auto done = rig.start(std::string(kPassword));
    browser.send(link_mess(kAuthSelection));
    EXPECT_EQ(server.recv(link_mess(kAuthSelection).size()), link_mess(kAuthSelection));
    server.send(reply);
    const auto failure = finished(done);
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->kind, TicketFailure::Kind::broken);
    EXPECT_EQ(failure->reason, "console is not a SPICE server");
    EXPECT_EQ(browser.pending(), "") << "nothing of it reached the browser";
  }
}

TEST(SpiceTicket, AKeyThatIsNotRsaIsBroken) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  browser.send(link_mess(kAuthSelection));
  EXPECT_EQ(server.recv(link_mess(kAuthSelection).size()), link_mess(kAuthSelection));
  const std::string reply = link_reply(0, kAuthSelection | kAuthSpice, std::string(162, '\x30'));
  server.send(reply);
  EXPECT_EQ(browser.recv(reply.size()), reply);
  browser.send(u32(1) + kBrowserTicket);
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::broken);
  EXPECT_EQ(failure->reason, "the gateway cannot make a SPICE ticket for this server");
  EXPECT_EQ(server.pending(), "") << "no ticket was sent";
}

TEST(SpiceTicket, SaslIsNotDone) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(kPassword));
  link_up(browser, server, kAuthSelection, kAuthSelection | kAuthSpice);
  browser.send(u32(2));
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::browser);
  EXPECT_EQ(server.pending(), "");
}

TEST(SpiceTicket, APasswordLongerThanSpiceAllowsIsRefused) {
  Rig rig;
  Peer browser = rig.browser();
  Peer server = rig.server();
  auto done = rig.start(std::string(61, 'p'));
  link_up(browser, server, 0, 0);
  browser.send(kBrowserTicket);
  const auto failure = finished(done);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->kind, TicketFailure::Kind::refused);
  EXPECT_EQ(failure->detail.find("ppp"), std::string::npos);
}

TEST(SpiceTicket, AServerThatClosesIsBrokenAndABrowserThatClosesIsTheBrowsers) {
  {
    Rig rig;
    Peer browser = rig.browser();
    Peer server = rig.server();
    auto done = rig.start(std::string(kPassword));
    browser.send(link_mess(0));
    EXPECT_EQ(server.recv(link_mess(0).size()), link_mess(0));
    server.close();
    const auto failure = finished(done);
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->kind, TicketFailure::Kind::broken);
    EXPECT_EQ(failure->reason, "SPICE server closed the connection during its link");
  }
  {
    Rig rig;
    Peer browser = rig.browser();
    auto done = rig.start(std::string(kPassword));
    browser.send("RED");
    browser.close();
    const auto failure = finished(done);
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->kind, TicketFailure::Kind::browser);
  }
}

}  // namespace
}  // namespace cgw::spice
