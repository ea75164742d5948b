// choose_path(): the path decision as one table, one row per (host route,
// console listen) pair; plus the address classifiers it rests on.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

#include "tunnel/console_path.hpp"
#include "tunnel/host_route.hpp"

namespace cgw::tunnel {
namespace {

// ---------------------------------------------------------------------------
// Host routes, as the gateway builds them from a host's URI and config.

SshSettings ssh_to(std::string host) {
  SshSettings ssh;
  ssh.host = std::move(host);
  ssh.user = "root";
  ssh.key_file = "id_ed25519";
  ssh.known_hosts = "known_hosts";
  return ssh;
}

HostRoute local_host(std::string uri) {
  HostRoute host;
  host.id = "local";
  host.uri = std::move(uri);
  host.local = true;
  return host;
}

HostRoute local_system() { return local_host("qemu:///system"); }
HostRoute local_session() { return local_host("qemu:///session"); }
HostRoute test_default() { return local_host("test:///default"); }

HostRoute local_with_address() {
  HostRoute host = local_system();
  host.address = "192.0.2.1";
  return host;
}

// A local hypervisor whose consoles are nevertheless reached through SSH.
HostRoute local_via_ssh() {
  HostRoute host = local_system();
  host.ssh = ssh_to("localhost");
  host.console_via_ssh = true;
  return host;
}

HostRoute remote_ssh() {
  HostRoute host;
  host.id = "kvm1";
  host.uri = "qemu+ssh://root@kvm1.example.com/system";
  host.hostname = "kvm1.example.com";
  host.ssh = ssh_to("kvm1.example.com");
  return host;
}

HostRoute remote_ssh_with_address() {
  HostRoute host = remote_ssh();
  host.address = "198.51.100.7";
  return host;
}

HostRoute remote_ssh_console_via_ssh() {
  HostRoute host = remote_ssh_with_address();
  host.console_via_ssh = true;
  return host;
}

HostRoute remote_tls() {
  HostRoute host;
  host.id = "kvm2";
  host.uri = "qemu+tls://kvm2.example.com/system";
  host.hostname = "kvm2.example.com";
  return host;
}

HostRoute remote_tls_with_address() {
  HostRoute host = remote_tls();
  host.address = "198.51.100.8";
  return host;
}

// A remote host known neither by name nor address (not something the config
// produces, but choose_path must not invent a destination for it).
HostRoute remote_nameless() {
  HostRoute host;
  host.id = "odd";
  host.uri = "qemu+tcp:///system";
  return host;
}

// ---------------------------------------------------------------------------
// Console listens, as effective_listen() reports them.

ConsoleListen tcp_listen(std::string address, std::uint16_t port = 5900) {
  ConsoleListen listen;
  listen.kind = ConsoleListen::Kind::tcp;
  listen.address = std::move(address);
  listen.port = port;
  return listen;
}

ConsoleListen socket_listen(std::string path = "/var/lib/libvirt/qemu/domain-5-x/vnc.sock") {
  ConsoleListen listen;
  listen.kind = ConsoleListen::Kind::unix_socket;
  listen.socket_path = std::move(path);
  return listen;
}

ConsoleListen no_listen() { return {}; }

// ---------------------------------------------------------------------------

using PK = ConsolePath::Kind;

struct PathRow {
  const char* name;
  HostRoute (*host)();
  ConsoleListen listen;
  PK kind;
  std::string_view address;  // tcp kinds
  std::uint16_t port;        // tcp kinds
  std::string_view socket;   // unix kinds
  bool needs_ssh;            // refused rows
};

void PrintTo(const PathRow& row, std::ostream* os) { *os << row.name; }

constexpr std::string_view sock = "/var/lib/libvirt/qemu/domain-5-x/vnc.sock";

// clang-format off
const PathRow path_rows[] = {
  // UNIX sockets on this machine are opened directly.
  {"SocketOnQemuSystem",  local_system,  socket_listen(), PK::local_unix, "", 0, sock, false},
  {"SocketOnQemuSession", local_session, socket_listen(), PK::local_unix, "", 0, sock, false},
  {"SocketOnTestDefault", test_default,  socket_listen(), PK::local_unix, "", 0, sock, false},
  {"SocketWithoutPath",   local_system,  socket_listen(""), PK::refused, "", 0, "", false},

  // Loopback consoles on this machine: straight to that loopback address.
  {"LocalLoopbackV4",       local_system,  tcp_listen("127.0.0.1"), PK::direct_tcp, "127.0.0.1", 5900, "", false},
  {"LocalLoopbackV4Other",  local_system,  tcp_listen("127.0.0.2", 5901), PK::direct_tcp, "127.0.0.2", 5901, "", false},
  {"LocalLoopbackV6",       local_session, tcp_listen("::1", 5902), PK::direct_tcp, "::1", 5902, "", false},
  {"LocalLoopbackName",     test_default,  tcp_listen("localhost"), PK::direct_tcp, "localhost", 5900, "", false},
  {"LocalLoopbackV4Mapped", local_system,  tcp_listen("::ffff:127.0.0.1"), PK::direct_tcp, "::ffff:127.0.0.1", 5900, "", false},

  // Wildcards: the host's configured address, else (local) the loopback of the
  // same family, else the URI's host name.
  {"LocalWildcardV4",            local_system,            tcp_listen("0.0.0.0"), PK::direct_tcp, "127.0.0.1", 5900, "", false},
  {"LocalWildcardV6",            local_system,            tcp_listen("::"), PK::direct_tcp, "::1", 5900, "", false},
  {"LocalWildcardWithAddress",   local_with_address,      tcp_listen("0.0.0.0"), PK::direct_tcp, "192.0.2.1", 5900, "", false},
  {"RemoteWildcardWithAddress",  remote_tls_with_address, tcp_listen("::", 5910), PK::direct_tcp, "198.51.100.8", 5910, "", false},
  {"RemoteWildcardToHostname",   remote_tls,              tcp_listen("0.0.0.0"), PK::direct_tcp, "kvm2.example.com", 5900, "", false},
  {"RemoteSshWildcardDirect",    remote_ssh,              tcp_listen("0.0.0.0"), PK::direct_tcp, "kvm1.example.com", 5900, "", false},
  {"RemoteSshWildcardToAddress", remote_ssh_with_address, tcp_listen("::"), PK::direct_tcp, "198.51.100.7", 5900, "", false},
  {"RemoteWildcardNoWayThere",   remote_nameless,         tcp_listen("0.0.0.0"), PK::refused, "", 0, "", false},

  // A specific routable address is connected to as it is.
  {"LocalSpecificAddress",  local_system, tcp_listen("192.0.2.44"), PK::direct_tcp, "192.0.2.44", 5900, "", false},
  {"RemoteSpecificAddress", remote_tls,   tcp_listen("198.51.100.9", 5911), PK::direct_tcp, "198.51.100.9", 5911, "", false},
  {"RemoteSshSpecificAddressDirect", remote_ssh, tcp_listen("2001:db8::5"), PK::direct_tcp, "2001:db8::5", 5900, "", false},

  // Only the host itself reaches its loopback and sockets: SSH, or refused.
  {"RemoteLoopbackThroughSsh",   remote_ssh, tcp_listen("127.0.0.1"), PK::ssh_tcp, "127.0.0.1", 5900, "", false},
  {"RemoteLoopbackV6ThroughSsh", remote_ssh, tcp_listen("::1", 5901), PK::ssh_tcp, "::1", 5901, "", false},
  {"RemoteSocketThroughSsh",     remote_ssh, socket_listen(), PK::ssh_unix, "", 0, sock, false},
  {"RemoteLoopbackWithoutSsh",   remote_tls, tcp_listen("127.0.0.1"), PK::refused, "", 0, "", true},
  {"RemoteLocalhostWithoutSsh",  remote_tls, tcp_listen("localhost"), PK::refused, "", 0, "", true},
  {"RemoteSocketWithoutSsh",     remote_tls, socket_listen(), PK::refused, "", 0, "", true},

  // console_via = "ssh": everything goes through the tunnel.
  {"ViaSshWildcardV4",       remote_ssh_console_via_ssh, tcp_listen("0.0.0.0"), PK::ssh_tcp, "127.0.0.1", 5900, "", false},
  {"ViaSshWildcardV6",       remote_ssh_console_via_ssh, tcp_listen("::"), PK::ssh_tcp, "::1", 5900, "", false},
  {"ViaSshSpecificAddress",  remote_ssh_console_via_ssh, tcp_listen("10.1.2.3", 5905), PK::ssh_tcp, "10.1.2.3", 5905, "", false},
  {"ViaSshLoopback",         remote_ssh_console_via_ssh, tcp_listen("127.0.0.1"), PK::ssh_tcp, "127.0.0.1", 5900, "", false},
  {"ViaSshSocket",           remote_ssh_console_via_ssh, socket_listen(), PK::ssh_unix, "", 0, sock, false},
  {"LocalViaSshLoopback",    local_via_ssh, tcp_listen("127.0.0.1"), PK::ssh_tcp, "127.0.0.1", 5900, "", false},
  {"LocalViaSshSocket",      local_via_ssh, socket_listen(), PK::ssh_unix, "", 0, sock, false},

  // Nowhere to go.
  {"ListenNoneLocal",  local_system, no_listen(), PK::refused, "", 0, "", false},
  {"ListenNoneRemote", remote_ssh,   no_listen(), PK::refused, "", 0, "", false},
  {"PortZeroLocal",    local_system, tcp_listen("127.0.0.1", 0), PK::refused, "", 0, "", false},
  {"PortZeroRemote",   remote_ssh,   tcp_listen("0.0.0.0", 0), PK::refused, "", 0, "", false},
};
// clang-format on

class ChoosePathTable : public testing::TestWithParam<PathRow> {};

TEST_P(ChoosePathTable, Row) {
  const PathRow& row = GetParam();
  const HostRoute host = row.host();
  const ConsolePath path = choose_path(host, row.listen);
  EXPECT_EQ(path.kind, row.kind);
  EXPECT_EQ(path.needs_ssh, row.needs_ssh);
  switch (row.kind) {
    case PK::direct_tcp:
    case PK::ssh_tcp:
      EXPECT_EQ(path.address, row.address);
      EXPECT_EQ(path.port, row.port);
      EXPECT_EQ(path.socket_path, "");
      EXPECT_EQ(path.refusal, "");
      break;
    case PK::local_unix:
    case PK::ssh_unix:
      EXPECT_EQ(path.socket_path, row.socket);
      EXPECT_EQ(path.address, "");
      EXPECT_EQ(path.refusal, "");
      break;
    case PK::refused:
      // A refusal always says why, for the close reason and the log.
      EXPECT_FALSE(path.refusal.empty());
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Routes, ChoosePathTable, testing::ValuesIn(path_rows),
                         [](const testing::TestParamInfo<PathRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

TEST(ChoosePath, RefusalNamesTheHost) {
  const ConsolePath path = choose_path(remote_tls(), tcp_listen("127.0.0.1"));
  ASSERT_EQ(path.kind, PK::refused);
  EXPECT_NE(path.refusal.find("kvm2"), std::string::npos) << path.refusal;
}

// ---------------------------------------------------------------------------

TEST(AddressClassifiers, Loopback) {
  for (std::string_view yes : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "localhost",
                               "localhost.localdomain", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(is_loopback_address(yes)) << yes;
  }
  for (std::string_view no : {"0.0.0.0", "::", "10.0.0.1", "192.168.122.1", "::ffff:10.0.0.1",
                              "2001:db8::1", "kvm1.example.com", "", "128.0.0.1"}) {
    EXPECT_FALSE(is_loopback_address(no)) << no;
  }
}

TEST(AddressClassifiers, Wildcard) {
  for (std::string_view yes : {"0.0.0.0", "::", "0:0:0:0:0:0:0:0"}) {
    EXPECT_TRUE(is_wildcard_address(yes)) << yes;
  }
  for (std::string_view no : {"127.0.0.1", "::1", "", "localhost", "10.0.0.1", "*"}) {
    EXPECT_FALSE(is_wildcard_address(no)) << no;
  }
}

}  // namespace
}  // namespace cgw::tunnel
