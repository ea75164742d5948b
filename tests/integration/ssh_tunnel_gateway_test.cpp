// The SSH tunnel, proven to be the only way in. console-gw runs in a network
// namespace of its own (a veth pair to this host, the "hypervisor") and a mount
// namespace of its own in which libvirt's socket directories are hidden, so the
// VMs' 127.0.0.1 consoles and UNIX sockets cannot be reached directly. It still
// shows their consoles, through a real sshd, to a real WebSocket client; libvirt
// itself is reached with qemu+ssh://.
#include "sshd_fixture.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/rfb_client.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;
namespace ssh = cgw::tunnel::test;

const std::string kVncGreeting = "RFB 003.008\n";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Exit status of a shell command (its output is discarded).
int shell(const std::string& command) {
  const int raw = std::system((command + " >/dev/null 2>&1").c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

bool accepts(const std::string& address, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A network namespace joined to this one by a veth pair, on a link-local /30
// that exists only between the two ends.
class GatewayNamespace {
 public:
  GatewayNamespace() {
    const int n = static_cast<int>(getpid() % 250) + 1;
    name_ = "cgwgw" + std::to_string(getpid());
    outer_ = "cgw" + std::to_string(getpid()) + "a";
    inner_ = "cgw" + std::to_string(getpid()) + "b";
    host_side_ = "169.254." + std::to_string(n) + ".1";
    gateway_side_ = "169.254." + std::to_string(n) + ".2";
    test::run("ip netns add " + name_);
    test::run("ip link add " + outer_ + " type veth peer name " + inner_);
    test::run("ip link set " + inner_ + " netns " + name_);
    test::run("ip addr add " + host_side_ + "/30 dev " + outer_);
    test::run("ip link set " + outer_ + " up");
    test::run("ip netns exec " + name_ + " ip addr add " + gateway_side_ + "/30 dev " + inner_);
    test::run("ip netns exec " + name_ + " ip link set " + inner_ + " up");
    test::run("ip netns exec " + name_ + " ip link set lo up");
  }
  ~GatewayNamespace() {
    shell("ip link del " + outer_);
    shell("ip netns del " + name_);
  }
  const std::string& name() const { return name_; }
  const std::string& host_side() const { return host_side_; }
  const std::string& gateway_side() const { return gateway_side_; }

 private:
  std::string name_, outer_, inner_, host_side_, gateway_side_;
};

class SshTunnelGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<ssh::TempDir>();
    const auto host_key = ssh::generate_key(dir_->path("host_key"), "ed25519");
    const auto other_host_key = ssh::generate_key(dir_->path("other_host_key"), "ed25519");
    const auto client = ssh::generate_key(dir_->path("client_key"), "ed25519");
    const auto stranger = ssh::generate_key(dir_->path("stranger_key"), "ed25519");
    ssh::write_file(dir_->path("authorized_keys"), client.public_line + "\n");

    sshd_ =
        std::make_unique<ssh::Sshd>(dir_->dir().string(), ssh::free_port(), host_key.private_key,
                                    dir_->path("authorized_keys"), ns_.host_side());
    sshd_->start();
    const std::string where = "[" + ns_.host_side() + "]:" + std::to_string(sshd_->port());
    ssh::write_file(dir_->path("known_hosts"), where + " " + key_part(host_key.public_line) + "\n");
    ssh::write_file(dir_->path("wrong_known_hosts"),
                    where + " " + key_part(other_host_key.public_line) + "\n");

    secret_ = dir_->path("token.key");
    test::run("head -c 32 /dev/urandom | base64 > '" + secret_ + "'");
    port_ = ssh::free_port();
    const std::string uri = "qemu+ssh://root@" + ns_.host_side() + ":" +
                            std::to_string(sshd_->port()) +
                            "/system?keyfile=" + client.private_key + "&no_tty=1";
    auto host = [&](const std::string& id, const std::string& key, const std::string& known) {
      return "[hosts." + id + "]\nuri = \"" + uri + "\"\nssh_key = \"" + key +
             "\"\nknown_hosts = \"" + known + "\"\n";
    };
    ssh::write_file(dir_->path("gw.toml"),
                    "[gateway]\nlisten = \"" + ns_.gateway_side() +
                        "\"\nport = " + std::to_string(port_) +
                        "\nlibvirt_timeout = \"30s\"\n[tokens]\nkey_file = \"" + secret_ + "\"\n" +
                        // Fifty consoles from one address in a moment: no rate limit.
                        "[limits]\nhandshake_rate = 0\n" +
                        host("hv", client.private_key, dir_->path("known_hosts")) +
                        host("hvbadkey", client.private_key, dir_->path("wrong_known_hosts")) +
                        host("hvbadclient", stranger.private_key, dir_->path("known_hosts")));

    // The gateway's own view of the file system: libvirt's socket directories
    // hidden, and root's ~/.ssh (used by the ssh that qemu+ssh:// runs) its own.
    const std::string script =
        "set -e; mount -t tmpfs tmpfs /var/lib/libvirt/qemu; mount -t tmpfs tmpfs /run/libvirt; "
        "mount -t tmpfs tmpfs /root; mkdir -m 700 /root/.ssh; cp '" +
        dir_->path("known_hosts") + "' /root/.ssh/known_hosts; exec '" CONSOLE_GW "' --config '" +
        dir_->path("gw.toml") + "'";
    log_ = dir_->path("gateway.log");
    // execv does no PATH lookup; env does, and execs in place (the pid stays console-gw's).
    gateway_ = ssh::spawn({"/usr/bin/env", "ip", "netns", "exec", ns_.name(), "unshare", "--mount",
                           "--propagation", "private", "sh", "-c", script},
                          log_);
    for (int i = 0; i < 200 && !accepts(ns_.gateway_side(), port_); ++i)
      std::this_thread::sleep_for(25ms);
    ASSERT_TRUE(accepts(ns_.gateway_side(), port_)) << slurp(log_);
  }

  void TearDown() override {
    if (gateway_ > 0) ssh::stop_process(gateway_);
    sshd_.reset();
  }

  static std::string key_part(const std::string& public_line) {
    // "ssh-ed25519 AAAA... comment" → "ssh-ed25519 AAAA..."
    const auto second_space = public_line.find(' ', public_line.find(' ') + 1);
    return public_line.substr(0, second_space);
  }

  std::string token(const std::string& host, const std::string& uuid) const {
    const token::SigningKey key = token::SigningKey::load_file(secret_);
    token::MintRequest request;
    request.host_id = host;
    request.uuid = uuid;
    return token::mint(key, request);
  }

  std::unique_ptr<test::WsClient> connect(const std::string& host, const std::string& uuid) const {
    test::WsOptions o;
    o.host = ns_.gateway_side();
    o.port = port_;
    o.target = "/websockify?token=" + token(host, uuid);
    o.timeout = 30s;
    return test::WsClient::connect(o);
  }

  // console-gw's established connections to sshd, seen from its namespace.
  int gateway_ssh_connections() const {
    const std::string out =
        ssh::run_command("ip netns exec " + ns_.name() + " ss -tnpH state established dst " +
                         ns_.host_side() + ":" + std::to_string(sshd_->port()));
    int count = 0;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);)
      count += line.find("\"console-gw\"") != std::string::npos;
    return count;
  }

  GatewayNamespace ns_;
  std::unique_ptr<ssh::TempDir> dir_;
  std::unique_ptr<ssh::Sshd> sshd_;
  std::string secret_, log_;
  std::uint16_t port_ = 0;
  pid_t gateway_ = -1;
};

const std::string kLoopbackVnc = "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>";
const std::string kSocketVnc = "<graphics type='vnc'><listen type='socket'/></graphics>";

std::string attribute(const std::string& xml, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(xml, m, std::regex(pattern)) ? m[1].str() : std::string();
}

TEST_F(SshTunnelGateway, LoopbackConsoleIsReachedOnlyThroughSsh) {
  test::TestDomain vm("cgw-it-sshtcp-" + std::to_string(getpid()), kLoopbackVnc);
  const std::string port = attribute(vm.live_xml(), "graphics type='vnc' port='(\\d+)'");
  ASSERT_FALSE(port.empty());
  // From the gateway's namespace the console's address is not there at all.
  EXPECT_NE(
      shell("ip netns exec " + ns_.name() + " bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + port + "'"),
      0);

  auto client = connect("hv", vm.uuid());
  // The gateway's RFB layer over the SSH channel: QEMU's ServerInit comes back.
  EXPECT_NE(test::rfb_connect(*client).name.find(vm.name()), std::string::npos);
  EXPECT_NE(slurp(log_).find("tcp 127.0.0.1:" + port), std::string::npos) << slurp(log_);
  EXPECT_NE(slurp(log_).find("via=\"ssh "), std::string::npos) << slurp(log_);
  // The session lines name the path taken.
  EXPECT_NE(slurp(log_).find(" path=ssh outcome=connected "), std::string::npos) << slurp(log_);
}

TEST_F(SshTunnelGateway, UnixSocketConsoleIsReachedOnlyThroughSsh) {
  test::TestDomain vm("cgw-it-sshunix-" + std::to_string(getpid()), kSocketVnc);
  const std::string socket = attribute(vm.live_xml(), "<listen type='socket' socket='([^']+)'");
  ASSERT_FALSE(socket.empty());
  ASSERT_TRUE(std::filesystem::exists(socket));
  // The gateway's view of the file system has no such socket.
  EXPECT_FALSE(std::filesystem::exists("/proc/" + std::to_string(gateway_) + "/root" + socket));

  auto client = connect("hv", vm.uuid());
  // The gateway's RFB layer over the SSH channel: QEMU's ServerInit comes back.
  EXPECT_NE(test::rfb_connect(*client).name.find(vm.name()), std::string::npos);
  EXPECT_NE(slurp(log_).find("unix " + socket), std::string::npos) << slurp(log_);
}

TEST_F(SshTunnelGateway, FiftyConsolesOfOneHostShareOneSshSession) {
  test::TestDomain vm("cgw-it-ssh50-" + std::to_string(getpid()), kLoopbackVnc);
  std::vector<std::unique_ptr<test::WsClient>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(connect("hv", vm.uuid()));
    ASSERT_EQ(clients.back()->read_exactly(kVncGreeting.size()), kVncGreeting) << "console " << i;
  }
  EXPECT_EQ(gateway_ssh_connections(), 1);
}

TEST_F(SshTunnelGateway, ChangedHostKeyIsRefusedWith4502) {
  test::TestDomain vm("cgw-it-sshkey-" + std::to_string(getpid()), kLoopbackVnc);
  const auto close = connect("hvbadkey", vm.uuid())->read_until_close();
  EXPECT_EQ(close.code, 4502);
  EXPECT_EQ(close.reason, "host key not trusted");
  EXPECT_NE(slurp(log_).find("SHA256:"), std::string::npos)
      << "the offered key's fingerprint is logged";
}

TEST_F(SshTunnelGateway, WrongClientKeyIsRefusedWith4502) {
  test::TestDomain vm("cgw-it-sshauth-" + std::to_string(getpid()), kLoopbackVnc);
  const auto close = connect("hvbadclient", vm.uuid())->read_until_close();
  EXPECT_EQ(close.code, 4502);
  EXPECT_EQ(close.reason.rfind("SSH authentication failed", 0), 0u) << close.reason;
}

TEST_F(SshTunnelGateway, SshdKilledEndsTheSessionAndTheNextOneReconnects) {
  test::TestDomain vm("cgw-it-sshkill-" + std::to_string(getpid()), kLoopbackVnc);
  auto first = connect("hv", vm.uuid());
  test::rfb_connect(*first);
  const auto killed_at = std::chrono::steady_clock::now();
  sshd_->kill_all();
  const auto close = first->read_until_close();
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.reason, "console closed");
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 10s);

  sshd_->start();
  auto second = connect("hv", vm.uuid());
  EXPECT_EQ(second->read_exactly(kVncGreeting.size()), kVncGreeting);
}

}  // namespace
}  // namespace cgw
