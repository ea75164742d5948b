// Consoles behind TLS, through the real console-gw to a real browser-side
// WebSocket client: VNC with VeNCrypt/X.509 (QEMU's vnc_tls, with and without
// vnc_tls_x509_verify) and SPICE listening only on its TLS port (spice_tls).
// The gateway completes the VNC server's security itself and offers the
// browser security type None; for SPICE it makes the TLS connection itself.
// QEMU runs under a libvirtd of the tests' own (tls_libvirtd.hpp), started once
// per process and only when a test needs it.
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "tls_libvirtd.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

namespace cgw {
namespace {

using namespace std::chrono_literals;
namespace tls = cgw::test::tls;

const std::string kVersion = "RFB 003.008\n";
const std::string kTlsVnc = "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>";
const std::string kTlsOnlySpice =
    "<graphics type='spice' autoport='yes' defaultMode='secure' listen='127.0.0.1'/>";
// The same with a ticket (password), which the gateway answers inside the TLS.
const std::string kSpicePassword = "s3cr3tGW";
const std::string kTlsOnlySpiceLocked =
    "<graphics type='spice' autoport='yes' defaultMode='secure' listen='127.0.0.1' passwd='" +
    kSpicePassword + "'/>";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string attribute(const std::string& xml, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(xml, m, std::regex(pattern)) ? m[1].str() : std::string();
}

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::uint32_t be32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 24 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3]));
}
std::uint16_t be16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) << 8 |
                                    static_cast<unsigned char>(b[at + 1]));
}
std::uint32_t le32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}
void put_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

struct ServerInit {
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  std::string name;
};

// The browser's side of the gateway's RFB handshake: version 3.8, security
// type None, then ClientInit (shared) and the server's ServerInit. Throws when
// the gateway ends the stream on the way; read_until_close() then says why.
ServerInit browser_handshake(test::WsClient& ws) {
  const std::string greeting = ws.read_exactly(kVersion.size());
  if (greeting != kVersion) throw std::runtime_error("greeting: " + greeting);
  ws.write(kVersion);
  const std::string types = ws.read_exactly(2);
  if (types != std::string("\x01\x01", 2))
    throw std::runtime_error("security types other than [None]: count " +
                             std::to_string(static_cast<unsigned char>(types[0])));
  ws.write(std::string("\x01", 1));
  const std::string result = ws.read_exactly(4);
  if (be32(result, 0) != 0)
    throw std::runtime_error("SecurityResult " + std::to_string(be32(result, 0)));
  ws.write(std::string("\x01", 1));
  const std::string init = ws.read_exactly(24);
  ServerInit out;
  out.width = be16(init, 0);
  out.height = be16(init, 2);
  out.name = ws.read_exactly(be32(init, 20));
  return out;
}

// What the gateway closes with when the handshake cannot complete; code -1
// when it completed after all.
test::CloseFrame rfb_refusal(test::WsClient& ws) {
  try {
    const ServerInit init = browser_handshake(ws);
    return {-1, "handshake completed: ServerInit " + init.name};
  } catch (const std::exception&) {
    return ws.read_until_close();
  }
}

// A SpiceLinkMess for the main channel, header included (spice-protocol's
// SpiceLinkHeader and SpiceLinkMess, little-endian), with the common caps
// spice-html5 sends: auth selection, SPICE auth, mini header.
std::string spice_link_main() {
  std::string mess;
  put_le32(mess, 0);   // connection_id
  mess.push_back(1);   // channel_type: SPICE_CHANNEL_MAIN
  mess.push_back(0);   // channel_id
  put_le32(mess, 1);   // num_common_caps
  put_le32(mess, 0);   // num_channel_caps
  put_le32(mess, 18);  // caps_offset: right after the fixed part
  put_le32(mess, 1u | 1u << 1 | 1u << 3);
  std::string out = "REDQ";
  put_le32(out, 2);  // SPICE_VERSION_MAJOR
  put_le32(out, 2);  // SPICE_VERSION_MINOR
  put_le32(out, static_cast<std::uint32_t>(mess.size()));
  return out + mess;
}

// The daemons and domains: one of each per process, made when first asked for,
// gone (domains first) when the program ends.
class TlsWorld : public ::testing::Environment {
 public:
  static TlsWorld* get() { return instance_; }
  TlsWorld() { instance_ = this; }

  const std::string& pki() {
    if (!pki_) {
      pki_ = std::make_unique<test::Scratch>();
      tls::mark_owner(*pki_);
      tls::make_pki(pki_->path("pki"), "cgw-test-ca");
      tls::make_pki(pki_->path("other"), "cgw-test-other-ca");
      pki_dir_ = pki_->path("pki");
      other_dir_ = pki_->path("other");
    }
    return pki_dir_;
  }
  const std::string& other_ca() {
    pki();
    return other_dir_;
  }
  tls::TlsLibvirtd& verifying() {
    if (!verifying_)
      verifying_ = std::make_unique<tls::TlsLibvirtd>(pki(), tls::TlsLibvirtd::Options{});
    return *verifying_;
  }
  tls::TlsLibvirtd& not_verifying() {
    if (!not_verifying_)
      not_verifying_ = std::make_unique<tls::TlsLibvirtd>(
          pki(), tls::TlsLibvirtd::Options{.verify_clients = false, .display_port_offset = 50});
    return *not_verifying_;
  }
  const tls::TlsDomain& vnc() {
    if (!vnc_) vnc_ = std::make_unique<tls::TlsDomain>(verifying(), "vnc", kTlsVnc);
    return *vnc_;
  }
  const tls::TlsDomain& vnc_not_verifying() {
    if (!vnc_nv_) vnc_nv_ = std::make_unique<tls::TlsDomain>(not_verifying(), "vncnv", kTlsVnc);
    return *vnc_nv_;
  }
  const tls::TlsDomain& spice() {
    if (!spice_) spice_ = std::make_unique<tls::TlsDomain>(verifying(), "spice", kTlsOnlySpice);
    return *spice_;
  }

  const tls::TlsDomain& spice_locked() {
    if (!spice_locked_) {
      spice_locked_ = std::make_unique<tls::TlsDomain>(verifying(), "spicepw", kTlsOnlySpiceLocked);
    }
    return *spice_locked_;
  }

  void TearDown() override {
    vnc_.reset();
    vnc_nv_.reset();
    spice_.reset();
    spice_locked_.reset();
    verifying_.reset();
    not_verifying_.reset();
    pki_.reset();
  }

 private:
  static inline TlsWorld* instance_ = nullptr;
  std::unique_ptr<test::Scratch> pki_;
  std::string pki_dir_, other_dir_;
  std::unique_ptr<tls::TlsLibvirtd> verifying_, not_verifying_;
  std::unique_ptr<tls::TlsDomain> vnc_, vnc_nv_, spice_, spice_locked_;
};

[[maybe_unused]] const auto* const world = ::testing::AddGlobalTestEnvironment(new TlsWorld);

// One console-gw per test, with the hosts the test gives it; its standard
// error is the test's to read.
class ConsoleTls : public ::testing::Test {
 protected:
  ConsoleTls() { tls::mark_owner(dir_); }
  void TearDown() override {
    if (gateway_ > 0) {
      ::kill(gateway_, SIGTERM);
      ::waitpid(gateway_, nullptr, 0);
    }
  }

  static std::string host(const std::string& id, const std::string& uri, const std::string& extra) {
    return "[hosts." + id + "]\nuri = \"" + uri + "\"\n" + extra;
  }
  static std::string tls_files(const std::string& ca_dir, const std::string& pki_dir,
                               bool client_certificate = true) {
    std::string out = "console_ca = \"" + ca_dir + "/ca-cert.pem\"\n";
    if (client_certificate)
      out += "console_cert = \"" + pki_dir + "/client-cert.pem\"\nconsole_key = \"" + pki_dir +
             "/client-key.pem\"\n";
    return out;
  }

  void start_gateway(const std::string& hosts) {
    secret_ = dir_.hs256_secret("token.key");
    port_ = tls::free_port();
    const std::string config =
        dir_.write("gw.toml", "[gateway]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(port_) +
                                  "\nlibvirt_timeout = \"30s\"\n[tokens]\nkey_file = \"" + secret_ +
                                  "\"\n" + hosts);
    log_ = dir_.path("gateway.log");
    gateway_ = tls::spawn({CONSOLE_GW, "--config", config}, log_);
    for (int i = 0; i < 400 && !accepts(port_); ++i) {
      if (::waitpid(gateway_, nullptr, WNOHANG) == gateway_) {
        gateway_ = -1;
        FAIL() << "console-gw exited:\n" << slurp(log_);
      }
      std::this_thread::sleep_for(25ms);
    }
    ASSERT_TRUE(accepts(port_)) << slurp(log_);
  }

  std::unique_ptr<test::WsClient> connect(const std::string& host_id, const std::string& uuid) {
    token::MintRequest request;
    request.host_id = host_id;
    request.uuid = uuid;
    test::WsOptions o;
    o.port = port_;
    o.target = "/websockify?token=" + token::mint(token::SigningKey::load_file(secret_), request);
    o.timeout = 30s;
    return test::WsClient::connect(o);
  }

  std::string log() const { return slurp(log_); }

  // Lines of the gateway's log that contain `what`.
  int log_lines_with(const std::string& what) const {
    std::istringstream lines(log());
    int n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(what) != std::string::npos;
    return n;
  }

  // No line of a private key in the log, nor the key's PEM armour.
  void expect_no_key_material(const std::string& key_file) const {
    const std::string text = log();
    EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos) << text;
    std::istringstream key(slurp(key_file));
    for (std::string line; std::getline(key, line);) {
      if (line.empty() || line.rfind("-----", 0) == 0) continue;
      EXPECT_EQ(text.find(line), std::string::npos) << "key material in the log:\n" << text;
    }
  }

  TlsWorld& world() { return *TlsWorld::get(); }

  test::Scratch dir_;
  std::string secret_, log_;
  std::uint16_t port_ = 0;
  pid_t gateway_ = -1;
};

TEST_F(ConsoleTls, VeNCryptX509WithClientCertificateReachesServerInitAndAFrame) {
  const auto& vm = world().vnc();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(host("tls", world().verifying().uri(), tls_files(pki, pki))));
  auto ws = connect("tls", vm.uuid());
  ServerInit init;
  ASSERT_NO_THROW(init = browser_handshake(*ws)) << log();
  EXPECT_TRUE((init.width == 720 && init.height == 400) ||
              (init.width == 640 && init.height == 480))
      << init.width << "x" << init.height;
  // QEMU names its desktop "QEMU (<-name guest=...>)", and libvirt passes the
  // domain's name.
  EXPECT_NE(init.name.find(vm.name()), std::string::npos) << init.name;

  // FramebufferUpdateRequest, not incremental, the whole screen.
  std::string request("\x03\x00\x00\x00\x00\x00", 6);
  request.push_back(static_cast<char>(init.width >> 8));
  request.push_back(static_cast<char>(init.width & 0xff));
  request.push_back(static_cast<char>(init.height >> 8));
  request.push_back(static_cast<char>(init.height & 0xff));
  ws->write(request);
  const std::string update = ws->read_exactly(4);
  EXPECT_EQ(update[0], 0) << "message type " << static_cast<int>(update[0]);
  EXPECT_GE(be16(update, 2), 1) << "rectangles";
}

TEST_F(ConsoleTls, VeNCryptServerCertificateFromAnotherCaIsRefusedWith4502) {
  const auto& vm = world().vnc();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(start_gateway(
      host("wrongca", world().verifying().uri(), tls_files(world().other_ca(), pki))));
  const auto close = rfb_refusal(*connect("wrongca", vm.uuid()));
  EXPECT_EQ(close.code, 4502) << close.reason << "\n" << log();
  EXPECT_NE(close.reason.find("certificate"), std::string::npos) << close.reason;
  EXPECT_EQ(log_lines_with("certificate"), 1) << log();
  expect_no_key_material(pki + "/client-key.pem");
}

TEST_F(ConsoleTls, VeNCryptServerNameOtherThanTheCertificatesIsRefusedWith4502) {
  const auto& vm = world().vnc();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(host("wrongname", world().verifying().uri(),
                         tls_files(pki, pki) + "console_tls_name = \"console.invalid\"\n")));
  const auto close = rfb_refusal(*connect("wrongname", vm.uuid()));
  EXPECT_EQ(close.code, 4502) << close.reason << "\n" << log();
  EXPECT_NE(close.reason.find("certificate"), std::string::npos) << close.reason;
}

TEST_F(ConsoleTls, VeNCryptWithoutClientCertificateIsRefusedWhenQemuVerifiesClients) {
  const auto& vm = world().vnc();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(host("nocert", world().verifying().uri(), tls_files(pki, pki, false))));
  const auto close = rfb_refusal(*connect("nocert", vm.uuid()));
  EXPECT_GT(close.code, 1000) << close.reason << "\n" << log();
  EXPECT_NE(close.code, -1) << close.reason;
  EXPECT_GE(close.reason.size(), 10u) << "a sentence, not a word: " << close.reason;
  EXPECT_EQ(log_lines_with("code=" + std::to_string(close.code)), 1) << log();
}

TEST_F(ConsoleTls, VeNCryptWithoutClientVerificationNeedsNoClientCertificate) {
  const auto& vm = world().vnc_not_verifying();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(host("noverify", world().not_verifying().uri(), tls_files(pki, pki, false))));
  auto ws = connect("noverify", vm.uuid());
  ServerInit init;
  ASSERT_NO_THROW(init = browser_handshake(*ws)) << log();
  EXPECT_NE(init.name.find(vm.name()), std::string::npos) << init.name;
}

TEST_F(ConsoleTls, SpiceConsoleOnlyOnItsTlsPortLinksThroughTheGateway) {
  const auto& vm = world().spice();
  // libvirt allocates the TLS port alone and writes no port='...' at all.
  const std::string xml = vm.live_xml();
  ASSERT_FALSE(attribute(xml, "<graphics type='spice'[^>]* tlsPort='(\\d+)'").empty()) << xml;
  EXPECT_TRUE(attribute(xml, "<graphics type='spice'[^>]* port='(\\d+)'").empty()) << xml;

  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(host("tls", world().verifying().uri(), tls_files(pki, pki))));
  auto ws = connect("tls", vm.uuid());
  ws->write(spice_link_main());
  std::string header;
  ASSERT_NO_THROW(header = ws->read_exactly(16)) << log();
  EXPECT_EQ(header.substr(0, 4), "REDQ");
  EXPECT_EQ(le32(header, 4), 2u) << "major version";
  const std::uint32_t size = le32(header, 12);
  ASSERT_GE(size, 4u + 162u) << "a SpiceLinkReply: error, public key, caps";
  const std::string reply = ws->read_exactly(size);
  EXPECT_EQ(le32(reply, 0), 0u) << "SPICE_LINK_ERR_OK";
}

TEST_F(ConsoleTls, SpiceServerCertificateFromAnotherCaIsRefusedWith4502) {
  const auto& vm = world().spice();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(start_gateway(
      host("wrongca", world().verifying().uri(), tls_files(world().other_ca(), pki))));
  auto ws = connect("wrongca", vm.uuid());
  test::CloseFrame close;
  try {
    ws->write(spice_link_main());
    const std::string header = ws->read_exactly(16);
    close = {-1, "a SpiceLinkReply arrived: " + header.substr(0, 4)};
  } catch (const std::exception&) {
    close = ws->read_until_close();
  }
  EXPECT_EQ(close.code, 4502) << close.reason << "\n" << log();
  EXPECT_NE(close.reason.find("certificate"), std::string::npos) << close.reason;
  expect_no_key_material(pki + "/client-key.pem");
}

// TLS first, then the ticket inside it: the browser's empty ticket is replaced
// by the gateway's, encrypted under the key the server sent through the TLS.
TEST_F(ConsoleTls, SpiceTicketIsAnsweredInsideTheTlsToATlsOnlyConsole) {
  const auto& vm = world().spice_locked();
  const std::string pki = world().pki();
  ASSERT_NO_FATAL_FAILURE(
      start_gateway(host("tls", world().verifying().uri(),
                         tls_files(pki, pki) + "spice_password_from_libvirt = true\n")));
  auto ws = connect("tls", vm.uuid());
  ws->write(spice_link_main());
  std::string header;
  ASSERT_NO_THROW(header = ws->read_exactly(16)) << log();
  const std::string reply = ws->read_exactly(le32(header, 12));
  EXPECT_EQ(le32(reply, 0), 0u) << "SPICE_LINK_ERR_OK";
  ws->write(std::string("\x01\x00\x00\x00", 4) + std::string(128, '\x5a'));
  std::string result;
  ASSERT_NO_THROW(result = ws->read_exactly(4)) << log();
  EXPECT_EQ(le32(result, 0), 0u) << "the link result: the gateway's ticket was accepted\n" << log();
  // The session is logged as connected just after its layers are done.
  for (int i = 0; i < 100 && log().find("tls ticket") == std::string::npos; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(log().find("tls ticket"), std::string::npos) << log();
  EXPECT_EQ(log().find(kSpicePassword), std::string::npos);
}

}  // namespace
}  // namespace cgw
