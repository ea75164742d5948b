// [hosts] reloaded by SIGHUP in the real console-gw binary: a host added is
// served at once; a host removed refuses new tokens with 4404 while a console
// opened on it before goes on streaming; a broken [hosts] is refused with one
// log line and the hosts in use go on serving. Libvirt's test driver (test://,
// in-process) and an EchoConsole: no libvirtd.
#include "tests/support/closed_port.hpp"
#include "tests/support/echo_console.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/tokens.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t count_lines_with(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(part) != std::string::npos) ++n;
  }
  return n;
}

class HostReload : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_ = scratch_.hs256_secret("token.key");
    node_ = scratch_.write("node.xml", test::test_driver_node(echo_.port(), closed_.port()));
    port_ = test::free_port();
    config_ = scratch_.path("gw.toml");
    log_ = scratch_.path("gateway.log");
    write_config({"fake"});
    pid_ = test::spawn({CONSOLE_GW, "--config", config_}, log_);
    ASSERT_GT(pid_, 0);
    bool up = false;
    for (int i = 0; i < 400 && !up; ++i) {
      try {
        up = test::http_get(port_, "/healthz").status == 200;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(25ms);
      }
    }
    ASSERT_TRUE(up) << log();
  }
  void TearDown() override {
    if (pid_ <= 0) return;  // only a positive pid is ever signalled
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }

  // The configuration file with these hosts, each the test driver's node, and
  // `extra` appended (more TOML).
  void write_config(const std::vector<std::string>& hosts, const std::string& extra = {}) {
    std::string text = "[gateway]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(port_) +
                       "\nmetrics_allow = [\"127.0.0.1/32\"]\n[tokens]\nkey_file = \"" + secret_ +
                       "\"\n";
    for (const std::string& id : hosts) {
      text +=
          "[hosts." + id + "]\nuri = \"test://" + node_ + "\"\nvnc_security = \"passthrough\"\n";
    }
    scratch_.write("gw.toml", text + extra);
  }

  // Sends SIGHUP and waits until the log has `count` lines with `marker`.
  void reload_until(const std::string& marker, std::size_t count) {
    ASSERT_EQ(::kill(pid_, SIGHUP), 0);
    for (int i = 0; i < 400 && count_lines_with(log(), marker) < count; ++i) {
      std::this_thread::sleep_for(25ms);
    }
    ASSERT_EQ(count_lines_with(log(), marker), count) << log();
  }

  std::unique_ptr<test::WsClient> client(const std::string& host_id) const {
    return test::console_client(port_, test::mint_token(secret_, host_id));
  }
  // The echo console on `host_id` answers `text`.
  void echoes(const std::string& host_id, const std::string& text) const {
    auto c = client(host_id);
    c->write(text);
    EXPECT_EQ(c->read_exactly(text.size()), text) << host_id;
  }
  int refusal(const std::string& host_id) const { return client(host_id)->read_until_close().code; }

  std::string log() const { return read_all(log_); }
  std::string metrics() const { return test::http_get(port_, "/metrics").body; }

  test::Scratch scratch_;
  test::EchoConsole echo_;
  test::ClosedPort closed_;
  std::string secret_, node_, config_, log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(HostReload, AddedHostServesRemovedHostRefusesNewTokensAndOpenConsolesGoOn) {
  EXPECT_EQ(refusal("added"), 4404);

  write_config({"fake", "added"});
  reload_until("reloaded ", 1);
  EXPECT_NE(log().find("hosts added: added"), std::string::npos) << log();
  auto on_added = client("added");
  on_added->write("one");
  ASSERT_EQ(on_added->read_exactly(3), "one");
  // The metrics report the hosts of the moment.
  EXPECT_NE(metrics().find("console_gw_libvirt_connected{host=\"added\"} 1"), std::string::npos)
      << metrics();

  write_config({"fake"});
  reload_until("reloaded ", 2);
  EXPECT_NE(log().find("hosts removed: added"), std::string::npos) << log();
  EXPECT_EQ(refusal("added"), 4404);
  EXPECT_EQ(metrics().find("host=\"added\""), std::string::npos) << metrics();
  on_added->write("two");
  EXPECT_EQ(on_added->read_exactly(3), "two");
  echoes("fake", "still");
  on_added->close();
}

TEST_F(HostReload, BrokenHostsAreRefusedInOneLineAndTheOldOnesServe) {
  write_config({"fake", "added"});
  reload_until("reloaded ", 1);
  auto on_added = client("added");

  // A host whose password file can't be read: nothing of this file is applied.
  write_config({"fake"}, "[hosts.bad]\nuri = \"test://" + node_ + "\"\nvnc_password_file = \"" +
                             scratch_.path("missing.pass") + "\"\n");
  reload_until("reload refused", 1);
  EXPECT_EQ(count_lines_with(log(), "hosts.bad.vnc_password_file: cannot read"), 1U) << log();
  EXPECT_EQ(count_lines_with(log(), "reloaded "), 1U) << log();
  echoes("added", "kept");  // not removed: the whole file was refused
  echoes("fake", "kept");
  on_added->write("on");
  EXPECT_EQ(on_added->read_exactly(2), "on");
  EXPECT_EQ(refusal("bad"), 4404);
}

}  // namespace
}  // namespace cgw
