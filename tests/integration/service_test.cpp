// The real console-gw binary as systemd runs it (Type=notify): the test is the
// service manager. It binds the AF_UNIX datagram socket that NOTIFY_SOCKET
// names, starts console-gw with its config file, and reads what sd_notify sends:
// READY=1 once listening; around a SIGHUP, RELOADING=1 then READY=1, with the
// re-read token key in force; STOPPING=1 at SIGTERM. The only host is libvirt's
// test driver (in-process), so no libvirtd is involved.
#include "tests/support/echo_console.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/tokens.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The service manager's end of NOTIFY_SOCKET: one datagram per sd_notify call.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, sizeof address.sun_path - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      throw std::runtime_error("cannot bind " + path);
    }
  }
  ~NotifySocket() { ::close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The next message, or nullopt when none comes within `limit`.
  std::optional<std::string> next(std::chrono::milliseconds limit = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return std::nullopt;
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
};

bool has_line(const std::string& message, const std::string& line) {
  return ("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos;
}

class ServiceNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    key_a_ = scratch_.hs256_secret("a.key");
    key_b_ = scratch_.hs256_secret("b.key");
    scratch_.write("token.key", read_file(key_a_));
    port_ = test::free_port();
    config_ = scratch_.write(
        "console-gw.toml",
        "[gateway]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(port_) +
            "\nthreads = 2\n\n[tokens]\nkey_file = \"" + scratch_.path("token.key") +
            "\"\n\n[hosts.fake]\nuri = \"test://" +
            scratch_.write("node.xml", test::test_driver_node(echo_.port(), echo_.port())) +
            "\"\nvnc_security = \"passthrough\"\n");
    log_ = scratch_.path("console-gw.log");
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Starts console-gw with NOTIFY_SOCKET in its environment (spawn() passes
  // this process's own).
  void start(const std::string& notify_socket) {
    ::setenv("NOTIFY_SOCKET", notify_socket.c_str(), 1);
    pid_ = test::spawn({CONSOLE_GW, "--config", config_}, log_);
    ::unsetenv("NOTIFY_SOCKET");
  }
  // 426 when a token signed with `key_file` is accepted, 401 when it is not.
  int status_for(const std::string& key_file) const {
    return test::http_get(port_, "/websockify?token=" + test::mint_token(key_file)).status;
  }
  std::string log() const { return read_file(log_); }

  test::Scratch scratch_;
  test::EchoConsole echo_;
  std::string key_a_, key_b_, config_, log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(ServiceNotify, ReadyReloadingAndStoppingReachTheServiceManager) {
  NotifySocket manager(scratch_.path("notify"));
  start(scratch_.path("notify"));

  const auto ready = manager.next();
  ASSERT_TRUE(ready) << "no READY=1 from console-gw; its log:\n" << log();
  EXPECT_TRUE(has_line(*ready, "READY=1")) << *ready;
  EXPECT_NE(ready->find("STATUS=listening on 127.0.0.1:" + std::to_string(port_)),
            std::string::npos)
      << *ready;
  // Ready means listening: no retry needed.
  EXPECT_EQ(status_for(key_a_), 426);
  EXPECT_EQ(status_for(key_b_), 401);

  // systemctl reload: the key file now holds key B.
  scratch_.write("token.key", read_file(key_b_));
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  const auto reloading = manager.next();
  ASSERT_TRUE(reloading) << log();
  EXPECT_TRUE(has_line(*reloading, "RELOADING=1")) << *reloading;
  EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos) << *reloading;
  const auto reloaded = manager.next();
  ASSERT_TRUE(reloaded) << log();
  EXPECT_TRUE(has_line(*reloaded, "READY=1")) << *reloaded;
  EXPECT_EQ(status_for(key_a_), 401);
  EXPECT_EQ(status_for(key_b_), 426);

  // A broken file is refused in one line; key B goes on serving.
  scratch_.write("token.key", "");
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  ASSERT_TRUE(manager.next());  // RELOADING=1
  const auto refused = manager.next();
  ASSERT_TRUE(refused) << log();
  EXPECT_TRUE(has_line(*refused, "READY=1")) << *refused;
  EXPECT_NE(refused->find("reload refused"), std::string::npos) << *refused;
  EXPECT_EQ(status_for(key_b_), 426);
  EXPECT_NE(log().find("reload refused: " + config_ + ": tokens.key_file: "), std::string::npos)
      << log();

  // systemctl stop.
  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  const auto stopping = manager.next();
  ASSERT_TRUE(stopping) << log();
  EXPECT_TRUE(has_line(*stopping, "STOPPING=1")) << *stopping;
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// A setting that a reload can't apply is named in the log, not silently ignored.
TEST_F(ServiceNotify, ReloadNamesWhatNeedsARestart) {
  NotifySocket manager(scratch_.path("notify"));
  start(scratch_.path("notify"));
  ASSERT_TRUE(manager.next()) << log();  // READY=1
  std::string changed = read_file(config_);
  changed.replace(changed.find("threads = 2"), 11, "threads = 3");
  scratch_.write("console-gw.toml", changed);
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  ASSERT_TRUE(manager.next());  // RELOADING=1
  ASSERT_TRUE(manager.next());  // READY=1
  EXPECT_NE(log().find("needs a restart (still as before): gateway.threads"), std::string::npos)
      << log();
  EXPECT_EQ(status_for(key_a_), 426);
}

// Without NOTIFY_SOCKET (not started by systemd) nothing is sent and nothing
// is missed: the gateway serves, and a SIGHUP reloads.
TEST_F(ServiceNotify, WithoutNotifySocketItServesAndReloads) {
  ::unsetenv("NOTIFY_SOCKET");
  pid_ = test::spawn({CONSOLE_GW, "--config", config_}, log_);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (log().find("listening on") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(status_for(key_a_), 426) << log();
  scratch_.write("token.key", read_file(key_b_));
  ASSERT_EQ(::kill(pid_, SIGHUP), 0);
  while (log().find("reloaded ") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status_for(key_b_), 426) << log();
}

// systemctl stop with a console open: the first SIGTERM drains (STOPPING=1,
// no new connections, the console goes on), a second one closes it with 1001
// and the process exits 0.
TEST_F(ServiceNotify, FirstSigtermDrainsSecondStops) {
  NotifySocket manager(scratch_.path("notify"));
  start(scratch_.path("notify"));
  ASSERT_TRUE(manager.next()) << log();  // READY=1
  auto client = test::console_client(port_, test::mint_token(key_a_));
  client->write("a");
  ASSERT_EQ(client->read_exactly(1), "a");

  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  const auto stopping = manager.next();
  ASSERT_TRUE(stopping) << log();
  EXPECT_TRUE(has_line(*stopping, "STOPPING=1")) << *stopping;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (log().find("draining: no new connections; 1 console(s) open may run for 10 s") ==
             std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(log().find("draining: no new connections; 1 console(s) open may run for 10 s"),
            std::string::npos)
      << log();
  EXPECT_THROW(test::http_get(port_, "/healthz"), std::exception);  // nobody accepts
  client->write("b");
  EXPECT_EQ(client->read_exactly(1), "b");

  ASSERT_EQ(::kill(pid_, SIGTERM), 0);
  const auto close = client->read_until_close();
  EXPECT_EQ(close.code, 1001);
  int status = 0;
  ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace cgw
