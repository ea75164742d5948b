// The whole data path on real parts: a real console-gw Server (in this process),
// the real libvirtd, real QEMU domains (KVM or TCG), a real WebSocket client.
// Each failure a browser can meet is checked for its close code and reason.
#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/echo_console.hpp"
#include "tests/support/rfb_client.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace cgw {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

const std::string kVncGreeting = "RFB 003.008\n";
constexpr const char* kVncPassword = "gw9f3x!k";  // VNC passwords have 8 characters at most

using test::rfb_connect;
using test::rfb_refused;
using test::ServerInit;

class ConsoleGateway : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new test::Scratch();
    echo_ = new test::EchoConsole();
    closed_ = new test::ClosedPort();
    secret_ = scratch_->hs256_secret("token.key");
    ec_key_ = scratch_->private_key("ec.pem", "EC");
    std::tie(cert_, cert_key_) = scratch_->tls_certificate("gateway");
    const std::string node =
        scratch_->write("node.xml", test::test_driver_node(echo_->port(), closed_->port()));

    // Everything the gateway logs goes to a file, so tests can read it.
    log_file_ = scratch_->path("gateway.log");
    saved_stderr_ = dup(STDERR_FILENO);
    const int fd = open(log_file_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);

    gateway::Config config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.cert = cert_;
    config.key = cert_key_;
    config.token_key_file = secret_;
    config.libvirt_timeout = 10s;
    config.connect_timeout = 3s;
    auto host = [](std::string id, std::string uri) {
      gateway::HostConfig h;
      h.id = std::move(id);
      h.uri = std::move(uri);
      return h;
    };
    // The echo console speaks no RFB: the gateway relays its bytes untouched.
    auto fake_host = [&host](std::string id, std::string uri) {
      gateway::HostConfig h = host(std::move(id), std::move(uri));
      h.vnc_security_gateway = false;
      return h;
    };
    // The same hypervisor, with the VNC password from libvirt, and with a
    // wrong one from a file.
    gateway::HostConfig with_password = host("pw", "qemu:///system");
    with_password.vnc_password_from_libvirt = true;
    gateway::HostConfig wrong_password = host("wrongpw", "qemu:///system");
    wrong_password.vnc_password_file = scratch_->write("wrong.vncpass", "not-it\n");
    // SPICE tickets: from libvirt, and a wrong one from a file.
    with_password.spice_password_from_libvirt = true;
    wrong_password.spice_password_file = scratch_->write("wrong.spicepass", "not-it\n");
    config.hosts = {
        host("local", "qemu:///system"),
        with_password,
        wrong_password,
        fake_host("fake", "test://" + node),
        host("dead", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"),
    };
    gateway::finish_config(config);
    server_ = new gateway::Server(std::move(config));
    server_->start();
    port_ = server_->port();
    thread_ = new std::thread([] { server_->run(); });
  }

  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    // Back to the real stderr first, so that a sanitizer report from the
    // server's destruction reaches the test's output.
    dup2(saved_stderr_, STDERR_FILENO);
    close(saved_stderr_);
    delete server_;
    delete closed_;
    delete echo_;
    delete scratch_;
  }

  // Real QEMU domains, made on first use and shared by this process's tests.
  static test::TestDomain& vnc_tcp() {
    static test::TestDomain d("cgw-it-vnc-" + std::to_string(getpid()),
                              "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
                              "<video><model type='cirrus'/></video>");
    return d;
  }
  // SPICE on TCP and VNC on a UNIX socket (libvirt allows one of each type).
  static test::TestDomain& spice_and_vnc_socket() {
    static test::TestDomain d("cgw-it-mixed-" + std::to_string(getpid()),
                              "<graphics type='spice' autoport='yes' listen='127.0.0.1'/>"
                              "<graphics type='vnc'><listen type='socket'/></graphics>"
                              "<video><model type='cirrus'/></video>");
    return d;
  }
  // VNC with a password, which only the gateway may know.
  static test::TestDomain& locked() {
    static test::TestDomain d("cgw-it-locked-" + std::to_string(getpid()),
                              "<graphics type='vnc' autoport='yes' listen='127.0.0.1' passwd='" +
                                  std::string(kVncPassword) +
                                  "'/><video><model type='cirrus'/></video>");
    return d;
  }
  // SPICE with a ticket (password).
  static test::TestDomain& spice_locked() {
    static test::TestDomain d("cgw-it-spicepw-" + std::to_string(getpid()),
                              "<graphics type='spice' autoport='yes' listen='127.0.0.1' passwd='" +
                                  std::string(kVncPassword) +
                                  "'/><video><model type='cirrus'/></video>");
    return d;
  }
  static test::TestDomain& shut_off() {
    static test::TestDomain d("cgw-it-off-" + std::to_string(getpid()),
                              "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>",
                              test::TestDomain::Start::defined_only);
    return d;
  }

  static std::string token(
      const std::string& host, const std::string& uuid,
      std::optional<token::ConsoleKind> console = std::nullopt, std::chrono::seconds ttl = 60s,
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now(),
      const std::string& key_file = secret_) {
    const token::SigningKey key = token::SigningKey::load_file(key_file);
    token::MintRequest request;
    request.host_id = host;
    request.uuid = uuid;
    request.console = console;
    request.ttl = ttl;
    request.now = now;
    return token::mint(key, request);
  }

  static test::WsOptions ws(const std::string& token_value, bool tls = false) {
    test::WsOptions o;
    o.port = port_;
    o.target = "/websockify?token=" + token_value;
    o.tls = tls;
    if (tls) o.ca_file = cert_;
    return o;
  }

  static test::CloseFrame refusal(const test::WsOptions& options) {
    auto client = test::WsClient::connect(options);
    return client->read_until_close();
  }

  static std::string log_text() {
    std::ifstream in(log_file_);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

  static inline test::Scratch* scratch_ = nullptr;
  static inline test::EchoConsole* echo_ = nullptr;
  // The "closed" domain's console: bound (so refused, and nobody else's) for the suite.
  static inline test::ClosedPort* closed_ = nullptr;
  static inline gateway::Server* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
  static inline std::uint16_t port_ = 0;
  static inline std::string secret_, ec_key_, cert_, cert_key_, log_file_;
  static inline int saved_stderr_ = -1;
};

// --- the console paths -------------------------------------------------------

TEST_F(ConsoleGateway, VncOnLoopbackTcpOverWs) {
  auto client = test::WsClient::connect(ws(token("local", vnc_tcp().uuid())));
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

// --- the gateway's RFB layer ---------------------------------------------------

TEST_F(ConsoleGateway, VncNoneIsCompletedAndServerInitRelayed) {
  auto client = test::WsClient::connect(ws(token("local", vnc_tcp().uuid())));
  const ServerInit init = rfb_connect(*client);
  EXPECT_GT(init.width, 0u);
  EXPECT_GT(init.height, 0u);
  EXPECT_NE(init.name.find(vnc_tcp().name()), std::string::npos) << init.name;
}

TEST_F(ConsoleGateway, VncPasswordFromLibvirtNeverReachesTheBrowser) {
  auto client = test::WsClient::connect(ws(token("pw", locked().uuid())));
  const ServerInit init = rfb_connect(*client);
  EXPECT_NE(init.name.find(locked().name()), std::string::npos) << init.name;
  // A framebuffer update request is answered: the session is QEMU's.
  client->write(std::string("\x03\x00\x00\x00\x00\x00\x00\x10\x00\x10", 10));
  EXPECT_EQ(client->read_exactly(1), std::string(1, '\0')) << "FramebufferUpdate";
  client->close();
  EXPECT_EQ(log_text().find(kVncPassword), std::string::npos);
}

TEST_F(ConsoleGateway, WrongVncPasswordIs4503WithASentence) {
  auto client = test::WsClient::connect(ws(token("wrongpw", locked().uuid())));
  const auto [reason, close] = rfb_refused(*client);
  EXPECT_EQ(reason, "VNC password rejected by the server");
  EXPECT_EQ(close.code, 4503);
  EXPECT_EQ(close.reason, "VNC password rejected by the server");
  EXPECT_NE(log_text().find("code=4503"), std::string::npos);
  EXPECT_EQ(log_text().find("not-it"), std::string::npos);
}

TEST_F(ConsoleGateway, VncPasswordNotConfiguredIs4503) {
  auto client = test::WsClient::connect(ws(token("local", locked().uuid())));
  const auto [reason, close] = rfb_refused(*client);
  EXPECT_EQ(close.code, 4503);
  EXPECT_EQ(close.reason, "VNC server asks for a password and none is configured for its host");
  EXPECT_EQ(reason, close.reason);
}

TEST_F(ConsoleGateway, ViewOnlyDropsInputKeepsTheScreenAndEndsOnUnknownMessages) {
  token::MintRequest request;
  request.host_id = "local";
  request.uuid = vnc_tcp().uuid();
  request.view_only = true;
  auto client =
      test::WsClient::connect(ws(token::mint(token::SigningKey::load_file(secret_), request)));
  rfb_connect(*client);
  // A key press and a pointer event are dropped; the update request that
  // follows them in the same message is answered.
  client->write(std::string("\x04\x01\x00\x00\x00\x00\x00\x61", 8) +
                std::string("\x05\x01\x00\x10\x00\x10", 6) +
                std::string("\x03\x00\x00\x00\x00\x00\x00\x10\x00\x10", 10));
  EXPECT_EQ(client->read_exactly(1), std::string(1, '\0')) << "FramebufferUpdate";
  // A message type no viewer sends ends the session, with the reason.
  client->write(std::string("\x2a", 1));
  const test::CloseFrame close = client->read_until_close();
  EXPECT_EQ(close.code, 1008);
  EXPECT_EQ(close.reason, "view-only: unknown RFB message type 42 from the browser");
}

TEST_F(ConsoleGateway, ViewOnlyIsRefusedForSpice) {
  token::MintRequest request;
  request.host_id = "local";
  request.uuid = spice_and_vnc_socket().uuid();
  request.console = token::ConsoleKind::spice;
  request.view_only = true;
  const auto close = refusal(ws(token::mint(token::SigningKey::load_file(secret_), request)));
  EXPECT_EQ(close.code, 4409);
  EXPECT_EQ(close.reason, "view-only is not available for SPICE consoles");
}

TEST_F(ConsoleGateway, VncOnLoopbackTcpOverWss) {
  auto client = test::WsClient::connect(ws(token("local", vnc_tcp().uuid()), true));
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

TEST_F(ConsoleGateway, VncOnUnixSocketOverWs) {
  ASSERT_NE(spice_and_vnc_socket().live_xml().find("type='socket'"), std::string::npos);
  auto client = test::WsClient::connect(
      ws(token("local", spice_and_vnc_socket().uuid(), token::ConsoleKind::vnc)));
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

TEST_F(ConsoleGateway, VncOnUnixSocketOverWss) {
  auto client = test::WsClient::connect(
      ws(token("local", spice_and_vnc_socket().uuid(), token::ConsoleKind::vnc), true));
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

// A SPICE link message for the main channel (spice-protocol's SpiceLinkHeader +
// SpiceLinkMess + one common capability word), little-endian.
std::string spice_link_message() {
  std::string out;
  auto u32 = [&out](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  out += "REDQ";
  u32(2);            // major
  u32(2);            // minor
  u32(22);           // size of what follows
  u32(0);            // connection_id
  out.push_back(1);  // channel_type: main
  out.push_back(0);  // channel_id
  u32(1);            // num_common_caps
  u32(0);            // num_channel_caps
  u32(18);           // caps_offset
  u32(0x0b);         // auth selection, auth spice, mini header
  return out;
}

void expect_spice_reply(test::WsClient& client) {
  client.write(spice_link_message());
  EXPECT_EQ(client.read_exactly(4), "REDQ");
}

TEST_F(ConsoleGateway, SpiceOnTcpOverWs) {
  auto client = test::WsClient::connect(
      ws(token("local", spice_and_vnc_socket().uuid(), token::ConsoleKind::spice)));
  expect_spice_reply(*client);
}

TEST_F(ConsoleGateway, SpiceOnTcpOverWss) {
  auto client = test::WsClient::connect(
      ws(token("local", spice_and_vnc_socket().uuid(), token::ConsoleKind::spice), true));
  expect_spice_reply(*client);
}

// The link result after the ticket: what a browser without the password gets.
std::uint32_t spice_link_result(test::WsClient& client) {
  client.write(spice_link_message());
  const std::string header = client.read_exactly(16);
  EXPECT_EQ(header.substr(0, 4), "REDQ");
  std::uint32_t size = 0;
  for (int i = 3; i >= 0; --i) size = size << 8 | static_cast<unsigned char>(header[12 + i]);
  const std::string reply = client.read_exactly(size);
  EXPECT_EQ(reply.substr(0, 4), std::string(4, '\0')) << "SPICE_LINK_ERR_OK";
  // The browser knows no password: spice-html5 encrypts an empty one. Any 128
  // bytes do; the gateway puts its own ticket in their place.
  client.write(std::string("\x01\x00\x00\x00", 4) + std::string(128, '\x5a'));
  const std::string result = client.read_exactly(4);
  return static_cast<unsigned char>(result[0]) | static_cast<unsigned char>(result[1]) << 8;
}

TEST_F(ConsoleGateway, SpiceTicketFromLibvirtIsAnsweredByTheGateway) {
  auto client = test::WsClient::connect(ws(token("pw", spice_locked().uuid())));
  EXPECT_EQ(spice_link_result(*client), 0u) << "SPICE_LINK_ERR_OK";
  client->close();
  EXPECT_EQ(log_text().find(kVncPassword), std::string::npos);
}

TEST_F(ConsoleGateway, WrongSpiceTicketIs4503) {
  auto client = test::WsClient::connect(ws(token("wrongpw", spice_locked().uuid())));
  EXPECT_EQ(spice_link_result(*client), 7u) << "SPICE_LINK_ERR_PERMISSION_DENIED";
  const auto close = client->read_until_close();
  EXPECT_EQ(close.code, 4503);
  EXPECT_EQ(close.reason, "SPICE password rejected by the server");
}

TEST_F(ConsoleGateway, SpiceTicketWithoutAPasswordIsTheBrowsersAndFails) {
  auto client = test::WsClient::connect(ws(token("local", spice_locked().uuid())));
  EXPECT_EQ(spice_link_result(*client), 7u) << "relayed untouched: QEMU refuses the ticket";
}

TEST_F(ConsoleGateway, FirstConsoleWhenTokenNamesNone) {
  // The mixed domain lists SPICE first.
  auto client = test::WsClient::connect(ws(token("local", spice_and_vnc_socket().uuid())));
  expect_spice_reply(*client);
}

// --- where the token comes from, and the subprotocol ----------------------------

TEST_F(ConsoleGateway, TokenFromCookie) {
  test::WsOptions o = ws("");
  o.target = "/websockify";
  o.cookie = "other=1; token=" + token("local", vnc_tcp().uuid());
  auto client = test::WsClient::connect(o);
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

TEST_F(ConsoleGateway, TokenFromPath) {
  test::WsOptions o = ws("");
  o.target = "/" + token("local", vnc_tcp().uuid());
  auto client = test::WsClient::connect(o);
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

TEST_F(ConsoleGateway, BinarySubprotocolOnlyWhenOffered) {
  test::WsOptions offered = ws(token("local", vnc_tcp().uuid()));
  offered.subprotocol = "binary";
  EXPECT_EQ(test::WsClient::connect(offered)->negotiated_subprotocol(), "binary");
  EXPECT_EQ(test::WsClient::connect(ws(token("local", vnc_tcp().uuid())))->negotiated_subprotocol(),
            "");
}

// --- each refusal: its close code and reason ------------------------------------

TEST_F(ConsoleGateway, TamperedSignatureIs4401) {
  std::string t = token("local", vnc_tcp().uuid());
  // Not the last character: its low bits are padding, and setting them makes
  // the token malformed (non-canonical base64url), not wrongly signed.
  char& c = t[t.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  const auto close = refusal(ws(t));
  EXPECT_EQ(close.code, 4401);
  EXPECT_EQ(close.reason, "bad signature");
}

TEST_F(ConsoleGateway, WrongAlgorithmIs4401) {
  const std::string es256 = token("local", vnc_tcp().uuid(), std::nullopt, 60s,
                                  std::chrono::system_clock::now(), ec_key_);
  const auto close = refusal(ws(es256));
  EXPECT_EQ(close.code, 4401);
  EXPECT_EQ(close.reason, "algorithm not allowed");
}

TEST_F(ConsoleGateway, MissingTokenIs4401) {
  test::WsOptions o = ws("");
  o.target = "/websockify";
  const auto close = refusal(o);
  EXPECT_EQ(close.code, 4401);
  EXPECT_EQ(close.reason, "missing token");
}

TEST_F(ConsoleGateway, ExpiredTokenIs4402) {
  const auto close = refusal(ws(
      token("local", vnc_tcp().uuid(), std::nullopt, 60s, std::chrono::system_clock::now() - 1h)));
  EXPECT_EQ(close.code, 4402);
  EXPECT_EQ(close.reason, "token expired");
}

TEST_F(ConsoleGateway, BadOriginIs4403) {
  test::WsOptions o = ws(token("local", vnc_tcp().uuid()));
  o.origin = "https://evil.example.com";
  const auto close = refusal(o);
  EXPECT_EQ(close.code, 4403);
  EXPECT_EQ(close.reason, "origin not allowed");
}

TEST_F(ConsoleGateway, SameOriginIsAllowed) {
  test::WsOptions o = ws(token("local", vnc_tcp().uuid()));
  o.origin = "http://127.0.0.1:" + std::to_string(port_);
  auto client = test::WsClient::connect(o);
  EXPECT_EQ(client->read_exactly(kVncGreeting.size()), kVncGreeting);
}

TEST_F(ConsoleGateway, UnknownHostIs4404) {
  const auto close = refusal(ws(token("nohost", vnc_tcp().uuid())));
  EXPECT_EQ(close.code, 4404);
  EXPECT_EQ(close.reason, "unknown host");
}

TEST_F(ConsoleGateway, UnknownUuidIs4404) {
  const auto close = refusal(ws(token("local", "6a1f0000-0000-4000-8000-00000000dead")));
  EXPECT_EQ(close.code, 4404);
  EXPECT_EQ(close.reason, "unknown domain");
}

TEST_F(ConsoleGateway, ShutOffDomainIs4409) {
  const auto close = refusal(ws(token("local", shut_off().uuid())));
  EXPECT_EQ(close.code, 4409);
  EXPECT_EQ(close.reason, "domain not running");
}

TEST_F(ConsoleGateway, NoSpiceDeviceIs4409) {
  const auto close = refusal(ws(token("local", vnc_tcp().uuid(), token::ConsoleKind::spice)));
  EXPECT_EQ(close.code, 4409);
  EXPECT_EQ(close.reason, "no SPICE console");
}

TEST_F(ConsoleGateway, LibvirtUnreachableIs4502) {
  const auto close = refusal(ws(token("dead", vnc_tcp().uuid())));
  EXPECT_EQ(close.code, 4502);
  EXPECT_EQ(close.reason, "hypervisor unreachable");
}

TEST_F(ConsoleGateway, ConsolePortClosedIs4504) {
  const auto close = refusal(ws(token("fake", test::kClosedUuid)));
  EXPECT_EQ(close.code, 4504);
  EXPECT_EQ(close.reason, "console unreachable");
}

TEST_F(ConsoleGateway, PlainHttpGetsStatusAndWords) {
  const auto expired = test::http_get(
      port_, "/websockify?token=" + token("local", vnc_tcp().uuid(), std::nullopt, 60s,
                                          std::chrono::system_clock::now() - 1h));
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(expired.body, "token expired\n");
  const auto unknown = test::http_get(
      port_, "/websockify?token=" + token("local", "6a1f0000-0000-4000-8000-00000000dead"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, "unknown domain\n");
  const auto fine = test::http_get(port_, "/websockify?token=" + token("local", vnc_tcp().uuid()));
  EXPECT_EQ(fine.status, 426);
  EXPECT_EQ(test::http_get(port_, "/healthz").status, 200);
  EXPECT_EQ(test::http_get(port_, "/healthz", true).status, 200);
}

// --- the session's end, from either side ------------------------------------

TEST_F(ConsoleGateway, VmStopClosesTheSessionWithAReason) {
  test::TestDomain vm("cgw-it-stop-" + std::to_string(getpid()),
                      "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>");
  auto client = test::WsClient::connect(ws(token("local", vm.uuid())));
  rfb_connect(*client);
  vm.destroy();
  const auto close = client->read_until_close();
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.reason, "console closed: the VM stopped");  // libvirt says it no longer runs
}

// One megabyte to the echo console and back, then the browser closes.
void bytes_flow_both_ways(test::WsClient& client, test::EchoConsole& echo, int ended_before) {
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i)
    payload[i] = static_cast<char>(i * 131 + (i >> 9));
  // Send in slices while reading back, as a browser would.
  std::string echoed;
  for (std::size_t off = 0; off < payload.size(); off += 64 * 1024) {
    client.write(std::string_view(payload).substr(off, 64 * 1024));
    echoed += client.read_exactly(64 * 1024);
  }
  EXPECT_TRUE(echoed == payload);
  client.close();
  EXPECT_TRUE(echo.wait_for_ended(ended_before + 1, 5s)) << "the console connection stayed open";
}

TEST_F(ConsoleGateway, BytesFlowBothWaysAndBrowserCloseEndsTheConsole) {
  const int ended = echo_->ended();
  auto client = test::WsClient::connect(ws(token("fake", test::kEchoUuid)));
  bytes_flow_both_ways(*client, *echo_, ended);
}

TEST_F(ConsoleGateway, BytesFlowBothWaysOverWss) {
  const int ended = echo_->ended();
  auto client = test::WsClient::connect(ws(token("fake", test::kEchoUuid), true));
  bytes_flow_both_ways(*client, *echo_, ended);
}

// What a browser must not send gets a close code and words, as RFC 6455 asks.
TEST_F(ConsoleGateway, TextFramesAreRefusedWith1003) {
  for (const bool tls : {false, true}) {
    auto client = test::WsClient::connect(ws(token("fake", test::kEchoUuid), tls));
    client->write_text("hello");
    const test::CloseFrame closed = client->read_until_close();
    EXPECT_EQ(closed.code, 1003) << (tls ? "wss" : "ws");
    EXPECT_EQ(closed.reason, "text frames not supported");
  }
}

TEST_F(ConsoleGateway, BrowserPingsAreAnsweredBetweenData) {
  for (const bool tls : {false, true}) {
    auto client = test::WsClient::connect(ws(token("fake", test::kEchoUuid), tls));
    client->ping("are you there");
    client->write("x");
    ASSERT_EQ(client->read_exactly(1), "x");  // the pong arrives before the echo
    EXPECT_EQ(client->pongs_seen(), 1) << (tls ? "wss" : "ws");
  }
}

TEST_F(ConsoleGateway, RefusalsOverWssCarryTheirCodes) {
  EXPECT_EQ(refusal(ws("garbage", true)).code, 4401);
  EXPECT_EQ(refusal(ws(token("local", "6a1f0000-0000-4000-8000-00000000dead"), true)).code, 4404);
}

// A raw client, for what Beast's client never sends.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) : socket_(ioc_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    const timeval limit{10, 0};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  void send(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }
  // Everything until the end of an HTTP header.
  std::string read_header() {
    std::string out;
    char c = 0;
    while (out.find("\r\n\r\n") == std::string::npos && net::read(socket_, net::buffer(&c, 1))) {
      out += c;
    }
    return out;
  }
  std::string read_exactly(std::size_t n) {
    std::string out(n, '\0');
    net::read(socket_, net::buffer(out));
    return out;
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_;
};

std::string upgrade_request(const std::string& token_value, std::string_view version) {
  return "GET /websockify?token=" + token_value +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: " +
         std::string(version) + "\r\n\r\n";
}

TEST_F(ConsoleGateway, UnmaskedClientFramesAreRefusedWith1002) {
  RawSocket raw(port_);
  raw.send(upgrade_request(token("fake", test::kEchoUuid), "13"));
  const std::string header = raw.read_header();
  ASSERT_NE(header.find("HTTP/1.1 101"), std::string::npos) << header;
  // RFC 6455's own example key and answer.
  EXPECT_NE(header.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos)
      << header;
  raw.send(std::string("\x82\x02hi", 4));  // binary, unmasked
  const std::string reason = "unmasked client frame";
  const std::string frame = raw.read_exactly(4 + reason.size());
  EXPECT_EQ(static_cast<unsigned char>(frame[0]), 0x88u);  // close, final
  EXPECT_EQ(static_cast<unsigned char>(frame[1]), 2 + reason.size());
  EXPECT_EQ((static_cast<unsigned char>(frame[2]) << 8) | static_cast<unsigned char>(frame[3]),
            1002);
  EXPECT_EQ(frame.substr(4), reason);
}

TEST_F(ConsoleGateway, OtherWebSocketVersionsGet426) {
  RawSocket raw(port_);
  raw.send(upgrade_request(token("fake", test::kEchoUuid), "8"));
  const std::string header = raw.read_header();
  EXPECT_NE(header.find("HTTP/1.1 426"), std::string::npos) << header;
  EXPECT_NE(header.find("Sec-WebSocket-Version: 13"), std::string::npos) << header;
}

TEST_F(ConsoleGateway, OtherSessionsSurviveARefusal) {
  auto good = test::WsClient::connect(ws(token("local", vnc_tcp().uuid())));
  ASSERT_EQ(good->read_exactly(kVncGreeting.size()), kVncGreeting);
  EXPECT_EQ(refusal(ws("garbage")).code, 4401);
  EXPECT_EQ(refusal(ws(token("dead", vnc_tcp().uuid()))).code, 4502);
  // The first session still talks to its VNC server: a ClientInit reply needs the
  // version echo; sending it must be answered with the security types.
  good->write(kVncGreeting);
  const std::string types = good->read_exactly(1);
  EXPECT_GE(static_cast<unsigned char>(types[0]), 1u);
}

TEST_F(ConsoleGateway, TokensNeverReachTheLog) {
  const std::string good = token("local", vnc_tcp().uuid());
  const std::string expired =
      token("local", vnc_tcp().uuid(), std::nullopt, 60s, std::chrono::system_clock::now() - 1h);
  std::string tampered = good;
  // Another base64url character, so the URL stays valid and the token reaches the verifier.
  char& middle = tampered[tampered.size() / 2];
  middle = middle == 'A' ? 'B' : 'A';
  test::WsClient::connect(ws(good))->read_exactly(kVncGreeting.size());
  refusal(ws(expired));
  refusal(ws(tampered));
  test::http_get(port_, "/websockify?token=" + expired);
  const std::string log = log_text();
  ASSERT_NE(log.find("outcome=refused code=4402"), std::string::npos) << log;
  for (const std::string& t : {good, expired, tampered}) {
    const std::string signature = t.substr(t.rfind('.') + 1);
    const std::string payload = t.substr(t.find('.') + 1, t.rfind('.') - t.find('.') - 1);
    EXPECT_EQ(log.find(signature), std::string::npos);
    EXPECT_EQ(log.find(payload), std::string::npos);
  }
}

}  // namespace
}  // namespace cgw
