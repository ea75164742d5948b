// parse_libvirt_uri() and is_local(), by table.
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "tunnel/host_route.hpp"

namespace cgw::tunnel {
namespace {

struct UriRow {
  const char* name;
  std::string_view uri;
  bool valid;
  std::string_view driver;
  std::string_view transport;
  std::string_view user;
  std::string_view host;
  std::uint16_t port;
  bool local;
};

void PrintTo(const UriRow& row, std::ostream* os) { *os << row.name << " (" << row.uri << ")"; }

// clang-format off
const UriRow uri_rows[] = {
  {"QemuSystem",      "qemu:///system",                          true, "qemu", "",     "",     "",                 0,    true},
  {"QemuSession",     "qemu:///session",                         true, "qemu", "",     "",     "",                 0,    true},
  {"QemuUnix",        "qemu+unix:///system",                     true, "qemu", "unix", "",     "",                 0,    true},
  {"TestDefault",     "test:///default",                         true, "test", "",     "",     "",                 0,    true},
  {"TestFile",        "test:///tmp/x.xml",                       true, "test", "",     "",     "",                 0,    true},
  {"SshUserPort",     "qemu+ssh://user@host:2222/system",        true, "qemu", "ssh",  "user", "host",             2222, false},
  {"SshWithQuery",    "qemu+ssh://root@kvm1.example.com/system?keyfile=/root/.ssh/id_ed25519&no_verify=1",
                                                                 true, "qemu", "ssh",  "root", "kvm1.example.com", 0,    false},
  {"Tls",             "qemu+tls://host/system",                  true, "qemu", "tls",  "",     "host",             0,    false},
  {"TcpWithPort",     "qemu+tcp://10.0.0.5:16509/system",        true, "qemu", "tcp",  "",     "10.0.0.5",         16509, false},
  {"SshIpv6Literal",  "qemu+ssh://[::1]/system",                 true, "qemu", "ssh",  "",     "::1",              0,    false},
  {"SshIpv6WithPort", "qemu+ssh://admin@[2001:db8::7]:2200/system", true, "qemu", "ssh", "admin", "2001:db8::7",   2200, false},
  {"Libssh2",         "qemu+libssh2://user@host/system",         true, "qemu", "libssh2", "user", "host",          0,    false},
  {"Garbage",         "garbage",                                 false, "", "", "", "", 0, false},
  {"Empty",           "",                                        false, "", "", "", "", 0, false},
  {"PathOnly",        "/var/run/libvirt/libvirt-sock",           false, "", "", "", "", 0, false},
  {"PortZero",        "qemu+ssh://host:0/system",                false, "", "", "", "", 0, false},
  {"PortTooBig",      "qemu+ssh://host:70000/system",            false, "", "", "", "", 0, false},
  {"PortNotNumber",   "qemu+ssh://host:ssh/system",              false, "", "", "", "", 0, false},
  {"SpaceInside",     "qemu:///sys tem",                         false, "", "", "", "", 0, false},
};
// clang-format on

class LibvirtUriTable : public testing::TestWithParam<UriRow> {};

TEST_P(LibvirtUriTable, Row) {
  const UriRow& row = GetParam();
  const std::optional<LibvirtUri> uri = parse_libvirt_uri(row.uri);
  ASSERT_EQ(uri.has_value(), row.valid);
  if (!uri) return;
  EXPECT_EQ(uri->driver, row.driver);
  EXPECT_EQ(uri->transport, row.transport);
  EXPECT_EQ(uri->user, row.user);
  EXPECT_EQ(uri->host, row.host);
  EXPECT_EQ(uri->port, row.port);
  EXPECT_EQ(is_local(*uri), row.local);
}

INSTANTIATE_TEST_SUITE_P(Uris, LibvirtUriTable, testing::ValuesIn(uri_rows),
                         [](const testing::TestParamInfo<UriRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

TEST(IsLocal, OnlyAHostMakesItRemote) {
  LibvirtUri uri;
  uri.driver = "qemu";
  EXPECT_TRUE(is_local(uri));
  uri.transport = "ssh";
  uri.user = "root";
  EXPECT_TRUE(is_local(uri));
  uri.host = "kvm1";
  EXPECT_FALSE(is_local(uri));
}

}  // namespace
}  // namespace cgw::tunnel
