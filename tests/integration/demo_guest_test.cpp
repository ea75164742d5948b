// The demo's guest (scripts/lib/guest.sh: a Linux kernel and a busybox
// initramfs) on the real libvirtd, its screen opened through the real console-gw
// Server: keys typed through the gateway reach the shell on the VM's screen.
// The guest's serial port (ttyS0) goes to a file, where the test reads what the
// guest says and what the typed command writes.
#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/rfb_client.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;

struct GuestFiles {
  std::string kernel;
  std::string initrd;
};

// Builds the guest, or reuses the one cached, as scripts/demo does.
GuestFiles guest_files() {
  const std::string command =
      std::string("bash -c '. \"") + CGW_GUEST_SH + "\" && cgw_guest_build'";
  std::unique_ptr<FILE, int (*)(FILE*)> out(popen(command.c_str(), "r"), pclose);
  if (!out) throw std::runtime_error("tests: cannot run " + command);
  std::string text;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, out.get()))
    text.append(buffer, n);
  if (pclose(out.release()) != 0) throw std::runtime_error("tests: cgw_guest_build failed");
  std::istringstream lines(text);
  GuestFiles files;
  std::getline(lines, files.kernel);
  std::getline(lines, files.initrd);
  return files;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Waits until the file holds `text`; false when `limit` passed first.
bool wait_for(const std::string& path, const std::string& text, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_file(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  std::string hex;
  for (const unsigned char c : raw) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
  }
  return hex;
}

class DemoGuest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new test::Scratch();
    secret_ = scratch_->hs256_secret("token.key");
    gateway::Config config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.token_key_file = secret_;
    gateway::HostConfig local;
    local.id = "local";
    local.uri = "qemu:///system";
    config.hosts = {local};
    gateway::finish_config(config);
    server_ = new gateway::Server(std::move(config));
    server_->start();
    thread_ = new std::thread([] { server_->run(); });
  }

  static void TearDownTestSuite() {
    server_->stop();
    thread_->join();
    delete thread_;
    delete server_;
    delete scratch_;
  }

  static std::unique_ptr<test::WsClient> console(const std::string& uuid) {
    token::MintRequest request;
    request.host_id = "local";
    request.uuid = uuid;
    request.ttl = 60s;
    request.now = std::chrono::system_clock::now();
    test::WsOptions options;
    options.port = server_->port();
    options.target =
        "/websockify?token=" + token::mint(token::SigningKey::load_file(secret_), request);
    return test::WsClient::connect(options);
  }

  static inline test::Scratch* scratch_ = nullptr;
  static inline gateway::Server* server_ = nullptr;
  static inline std::thread* thread_ = nullptr;
  static inline std::string secret_;
};

TEST_F(DemoGuest, ShellOnTheScreenTakesKeysThroughTheGateway) {
  const GuestFiles files = guest_files();
  const std::string serial = scratch_->path("serial.log");
  test::DomainSpec spec;
  // TCG: under some nested KVMs (CI VMs) Linux hangs in its decompressor, and
  // TCG boots this guest in seconds anywhere.
  spec.type = "qemu";
  spec.memory_mib = 128;
  spec.os = "<kernel>" + files.kernel + "</kernel><initrd>" + files.initrd +
            "</initrd><cmdline>console=tty0 console=ttyS0,115200 quiet</cmdline>";
  spec.devices =
      "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
      "<video><model type='cirrus'/></video>"
      "<serial type='file'><source path='" +
      serial + "'/><target port='0'/></serial>";
  test::TestDomain guest("cgw-it-demo-" + std::to_string(getpid()), spec);

  // The guest says on ttyS0 when the shell on its screen (tty1) reads keys.
  ASSERT_TRUE(wait_for(serial, "console-gw-demo: shell on tty1 ready", 120s)) << "serial output:\n"
                                                                              << read_file(serial);

  auto client = console(guest.uuid());
  const test::ServerInit init = test::rfb_connect(*client);
  EXPECT_GT(init.width, 0u);

  // Typed on the screen; only the shell there can write it to the serial port.
  const std::string mark = "cgw-typed-" + random_hex(8);
  test::rfb_type(*client, "echo " + mark + " >/dev/ttyS0\n");
  EXPECT_TRUE(wait_for(serial, mark, 60s)) << "serial output:\n" << read_file(serial);
  client->close();
}

}  // namespace
}  // namespace cgw
