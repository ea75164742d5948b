// Serial consoles through libvirt streams, on real parts: the console-gw Server
// (in this process), the real libvirtd and a real QEMU whose SeaBIOS writes to
// the serial port (<bios useserial='yes'/>). With no disk it finds nothing to
// boot and reboots every second, so its banner comes again and again while a
// test is connected.
#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;

class SerialConsole : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new test::Scratch();
    secret_ = scratch_->hs256_secret("token.key");
    gateway::Config config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.token_key_file = secret_;
    config.libvirt_timeout = 10s;
    config.connect_timeout = 3s;
    gateway::HostConfig local;
    local.id = "local";
    local.uri = "qemu:///system";
    config.hosts = {local};
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
    delete server_;
    delete scratch_;
  }

  // A VM with a serial console and nothing to boot: SeaBIOS's banner on the
  // serial port about once a second.
  static test::TestDomain& bios_on_serial() {
    static test::TestDomain d("cgw-it-serial-" + std::to_string(getpid()), [] {
      test::DomainSpec spec;
      spec.os = "<bios useserial='yes' rebootTimeout='1000'/>";
      spec.devices = "<serial type='pty'/><console type='pty'/>";
      return spec;
    }());
    return d;
  }

  static std::string token(const std::string& uuid, std::optional<std::string> device = {},
                           bool force = false) {
    token::MintRequest request;
    request.host_id = "local";
    request.uuid = uuid;
    request.console = ConsoleKind::serial;
    request.device = std::move(device);
    request.force = force;
    return token::mint(token::SigningKey::load_file(secret_), request);
  }

  static test::WsOptions ws(const std::string& token_value) {
    test::WsOptions o;
    o.port = port_;
    o.target = "/websockify?token=" + token_value;
    return o;
  }

  // Reads until `text` has arrived (true) or the console ended or 30 s passed.
  static bool read_until(test::WsClient& client, const std::string& text) {
    std::string seen;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::optional<std::string> message = client.read_message();
      if (!message) return false;
      seen += *message;
      if (seen.find(text) != std::string::npos) return true;
      if (seen.size() > 2 * text.size() + 4096) seen.erase(0, seen.size() - text.size());
    }
    return false;
  }

  static inline test::Scratch* scratch_ = nullptr;
  static inline gateway::Server* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
  static inline std::uint16_t port_ = 0;
  static inline std::string secret_;
};

TEST_F(SerialConsole, SeaBiosBannerArrivesOverTheWebSocket) {
  auto client = test::WsClient::connect(ws(token(bios_on_serial().uuid())));
  EXPECT_TRUE(read_until(*client, "SeaBIOS"));
  client->close();
}

TEST_F(SerialConsole, DeviceByAlias) {
  auto client = test::WsClient::connect(ws(token(bios_on_serial().uuid(), "serial0")));
  EXPECT_TRUE(read_until(*client, "SeaBIOS"));
  client->close();
}

TEST_F(SerialConsole, UnknownDeviceIs4409) {
  auto client = test::WsClient::connect(ws(token(bios_on_serial().uuid(), "serial7")));
  const test::CloseFrame close = client->read_until_close();
  EXPECT_EQ(close.code, 4409);
  EXPECT_EQ(close.reason, "no serial console serial7");
}

TEST_F(SerialConsole, HeldConsoleIsRefused4423AndForceTakesItOver) {
  auto first = test::WsClient::connect(ws(token(bios_on_serial().uuid())));
  ASSERT_TRUE(read_until(*first, "SeaBIOS"));

  auto second = test::WsClient::connect(ws(token(bios_on_serial().uuid())));
  const test::CloseFrame refused = second->read_until_close();
  EXPECT_EQ(refused.code, 4423);
  EXPECT_EQ(refused.reason, "console in use by another client");

  // The first still has the console.
  EXPECT_TRUE(read_until(*first, "SeaBIOS"));

  auto third = test::WsClient::connect(ws(token(bios_on_serial().uuid(), {}, true)));
  EXPECT_TRUE(read_until(*third, "SeaBIOS"));
  const test::CloseFrame taken = first->read_until_close();
  EXPECT_EQ(taken.code, 4411);
  EXPECT_EQ(taken.reason, "console taken over by another client");
  third->close();
}

// A VM that stops ends its serial console like any other: libvirt ends the
// stream, and the browser hears that the VM stopped.
TEST_F(SerialConsole, VmStoppingEndsTheConsoleWithItsReason) {
  test::DomainSpec spec;
  spec.os = "<bios useserial='yes' rebootTimeout='1000'/>";
  spec.devices = "<serial type='pty'/><console type='pty'/>";
  test::TestDomain vm("cgw-it-serialstop-" + std::to_string(getpid()), spec);
  auto client = test::WsClient::connect(ws(token(vm.uuid())));
  ASSERT_TRUE(read_until(*client, "SeaBIOS"));
  vm.destroy();
  const test::CloseFrame close = client->read_until_close();
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.reason, "console closed: the VM stopped");
}

// Keys typed in the browser reach the serial port: libvirt takes them (the
// write completes) and the console stays open.
TEST_F(SerialConsole, BrowserInputIsWrittenToTheConsole) {
  auto client = test::WsClient::connect(ws(token(bios_on_serial().uuid())));
  ASSERT_TRUE(read_until(*client, "SeaBIOS"));
  for (int i = 0; i < 100; ++i) client->write("\x1b[A key " + std::to_string(i) + "\r");
  EXPECT_TRUE(read_until(*client, "SeaBIOS"));
  client->close();
}

}  // namespace
}  // namespace cgw
