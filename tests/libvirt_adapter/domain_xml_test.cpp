// parse_domain_xml() and effective_listen() on domain XML as libvirt 9.0 writes
// it. The <graphics> elements below were captured with `virsh dumpxml` from
// transient (running) and defined-but-shut-off domains on a Debian 12 libvirtd;
// the few that this host could not start (a SPICE console with TLS only, a
// network listen on an active network) follow the same format, from libvirt's
// formatdomain documentation.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "libvirt_adapter/domain_xml.hpp"

namespace cgw::libvirt {
namespace {

// The live XML of a running transient domain, verbatim from `virsh dumpxml`.
constexpr std::string_view live_vnc_domain = R"(<domain type='kvm' id='7'>
  <name>cgw-ut-vnc</name>
  <uuid>e28dfe30-ef8d-40df-a98c-b96463d99d54</uuid>
  <memory unit='KiB'>65536</memory>
  <currentMemory unit='KiB'>65536</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <cpu mode='custom' match='exact' check='full'>
    <model fallback='forbid'>qemu64</model>
    <feature policy='disable' name='pni'/>
    <feature policy='require' name='x2apic'/>
    <feature policy='require' name='hypervisor'/>
    <feature policy='require' name='lahf_lm'/>
    <feature policy='disable' name='svm'/>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' index='0' model='piix3-uhci'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'>
      <alias name='pci.0'/>
    </controller>
    <input type='mouse' bus='ps2'>
      <alias name='input0'/>
    </input>
    <input type='keyboard' bus='ps2'>
      <alias name='input1'/>
    </input>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='cirrus' vram='16384' heads='1' primary='yes'/>
      <alias name='video0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </video>
    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </memballoon>
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+64055</label>
    <imagelabel>+64055:+64055</imagelabel>
  </seclabel>
</domain>
)";

// A domain document around `devices`, shaped like libvirt's output: the live
// form carries id='N', the inactive (defined, shut off) form does not.
std::string domain_with(std::string_view devices, bool running = true) {
  std::string xml = running ? "<domain type='kvm' id='5'>\n" : "<domain type='kvm'>\n";
  xml +=
      "  <name>cgw-ut-x</name>\n"
      "  <uuid>705de2f6-8ddb-43d7-bd8d-3562dc6a2cf7</uuid>\n"
      "  <memory unit='KiB'>65536</memory>\n"
      "  <os>\n    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n  </os>\n"
      "  <devices>\n"
      "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n";
  xml += devices;
  xml +=
      "\n    <audio id='1' type='none'/>\n"
      "  </devices>\n"
      "</domain>\n";
  return xml;
}

// ---------------------------------------------------------------------------
// parse_domain_xml

TEST(ParseDomainXml, LiveXmlOfRunningVncDomain) {
  const auto dom = parse_domain_xml(live_vnc_domain);
  ASSERT_TRUE(dom.has_value());
  EXPECT_EQ(dom->name, "cgw-ut-vnc");
  EXPECT_EQ(dom->uuid, "e28dfe30-ef8d-40df-a98c-b96463d99d54");
  EXPECT_TRUE(dom->has_id);
  ASSERT_EQ(dom->graphics.size(), 1u);
  const Graphics& g = dom->graphics[0];
  EXPECT_EQ(g.type, ConsoleKind::vnc);
  EXPECT_EQ(g.port, 5901);
  EXPECT_EQ(g.tls_port, -1);
  EXPECT_TRUE(g.autoport);
  EXPECT_EQ(g.listen_attribute, "127.0.0.1");
  EXPECT_EQ(g.socket, "");
  ASSERT_EQ(g.listens.size(), 1u);
  EXPECT_EQ(g.listens[0].type, GraphicsListen::Type::address);
  EXPECT_EQ(g.listens[0].address, "127.0.0.1");
}

TEST(ParseDomainXml, HasIdOnlyInLiveXml) {
  const auto running = parse_domain_xml(domain_with("", true));
  const auto shut_off = parse_domain_xml(domain_with("", false));
  ASSERT_TRUE(running && shut_off);
  EXPECT_TRUE(running->has_id);
  EXPECT_FALSE(shut_off->has_id);
  EXPECT_TRUE(running->graphics.empty());
}

TEST(ParseDomainXml, UuidLowerCased) {
  const auto dom = parse_domain_xml(
      "<domain type='kvm'><name>n</name>"
      "<uuid>E28DFE30-EF8D-40DF-A98C-B96463D99D54</uuid></domain>");
  ASSERT_TRUE(dom.has_value());
  EXPECT_EQ(dom->uuid, "e28dfe30-ef8d-40df-a98c-b96463d99d54");
}

TEST(ParseDomainXml, PersistentShutOffDomain) {
  // `virsh define` + `virsh dumpxml` of a domain that never ran: no id, port -1,
  // and a <listen type='address'/> without an address.
  const auto dom =
      parse_domain_xml(domain_with(R"(    <graphics type='vnc' port='-1' autoport='yes'>
      <listen type='address'/>
    </graphics>)",
                                   false));
  ASSERT_TRUE(dom.has_value());
  EXPECT_FALSE(dom->has_id);
  ASSERT_EQ(dom->graphics.size(), 1u);
  const Graphics& g = dom->graphics[0];
  EXPECT_EQ(g.port, -1);
  EXPECT_TRUE(g.autoport);
  EXPECT_EQ(g.listen_attribute, "");
  ASSERT_EQ(g.listens.size(), 1u);
  EXPECT_EQ(g.listens[0].type, GraphicsListen::Type::address);
  EXPECT_EQ(g.listens[0].address, "");
  EXPECT_EQ(effective_listen(g).kind, EffectiveListen::Kind::not_started);
}

TEST(ParseDomainXml, SeveralGraphicsDevicesInDocumentOrder) {
  // A running domain with SPICE first and VNC on ::1 second.
  const auto dom = parse_domain_xml(
      domain_with(R"(    <graphics type='spice' port='5901' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <graphics type='vnc' port='5902' autoport='yes' listen='::1'>
      <listen type='address' address='::1'/>
    </graphics>)"));
  ASSERT_TRUE(dom.has_value());
  ASSERT_EQ(dom->graphics.size(), 2u);
  EXPECT_EQ(dom->graphics[0].type, ConsoleKind::spice);
  EXPECT_EQ(dom->graphics[0].port, 5901);
  EXPECT_EQ(dom->graphics[1].type, ConsoleKind::vnc);
  EXPECT_EQ(dom->graphics[1].port, 5902);
  EXPECT_EQ(dom->graphics[1].listens.at(0).address, "::1");
}

TEST(ParseDomainXml, GraphicsThatAreNotVncOrSpiceAreSkipped) {
  // dbus as a running domain shows it (with its bus address), egl-headless as
  // a defined domain shows it; neither is a console we can reach.
  const auto dom = parse_domain_xml(domain_with(
      R"(    <graphics type='dbus' address='unix:path=/run/libvirt/qemu/dbus/16-cgw-ut-dbus-dbus.sock'/>
    <graphics type='egl-headless'/>
    <graphics type='sdl' display=':0'/>
    <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)"));
  ASSERT_TRUE(dom.has_value());
  ASSERT_EQ(dom->graphics.size(), 1u);
  EXPECT_EQ(dom->graphics[0].type, ConsoleKind::vnc);
  EXPECT_EQ(dom->graphics[0].port, 5901);
}

TEST(ParseDomainXml, SocketListenKeepsBothSpellings) {
  const auto dom = parse_domain_xml(
      domain_with(R"(    <graphics type='vnc' socket='/var/lib/libvirt/qemu/domain-5-x/vnc.sock'>
      <listen type='socket' socket='/var/lib/libvirt/qemu/domain-5-x/vnc.sock'/>
    </graphics>)"));
  ASSERT_TRUE(dom.has_value());
  ASSERT_EQ(dom->graphics.size(), 1u);
  const Graphics& g = dom->graphics[0];
  EXPECT_EQ(g.port, -1);
  EXPECT_EQ(g.socket, "/var/lib/libvirt/qemu/domain-5-x/vnc.sock");
  ASSERT_EQ(g.listens.size(), 1u);
  EXPECT_EQ(g.listens[0].type, GraphicsListen::Type::socket);
  EXPECT_EQ(g.listens[0].socket, "/var/lib/libvirt/qemu/domain-5-x/vnc.sock");
}

TEST(ParseDomainXml, NetworkListenKeepsNetworkAndAddress) {
  const auto dom = parse_domain_xml(
      domain_with(R"(    <graphics type='vnc' port='5901' autoport='yes' listen='192.168.122.1'>
      <listen type='network' address='192.168.122.1' network='default'/>
    </graphics>)"));
  ASSERT_TRUE(dom.has_value());
  ASSERT_EQ(dom->graphics.size(), 1u);
  ASSERT_EQ(dom->graphics[0].listens.size(), 1u);
  const GraphicsListen& l = dom->graphics[0].listens[0];
  EXPECT_EQ(l.type, GraphicsListen::Type::network);
  EXPECT_EQ(l.network, "default");
  EXPECT_EQ(l.address, "192.168.122.1");
}

TEST(ParseDomainXml, SpiceTlsPort) {
  const auto dom = parse_domain_xml(domain_with(
      R"(    <graphics type='spice' port='5900' tlsPort='5901' autoport='no' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)"));
  ASSERT_TRUE(dom.has_value());
  ASSERT_EQ(dom->graphics.size(), 1u);
  EXPECT_EQ(dom->graphics[0].type, ConsoleKind::spice);
  EXPECT_EQ(dom->graphics[0].port, 5900);
  EXPECT_EQ(dom->graphics[0].tls_port, 5901);
  EXPECT_FALSE(dom->graphics[0].autoport);
}

TEST(ParseDomainXml, SavedConfigWithLeadingCommentParses) {
  // /etc/libvirt/qemu/<name>.xml starts with a comment before <domain>.
  const std::string xml =
      "<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n"
      "OVERWRITTEN AND LOST. Changes to this xml configuration should be made using:\n"
      "  virsh edit cgw-ut-x\n-->\n\n" +
      domain_with("", false);
  const auto dom = parse_domain_xml(xml);
  ASSERT_TRUE(dom.has_value());
  EXPECT_EQ(dom->name, "cgw-ut-x");
}

TEST(ParseDomainXml, NotADomainDocument) {
  const std::string_view cases[] = {
      "",
      "not xml at all",
      "<domain type='kvm'><name>x</name>",                 // unterminated
      "<domain type='kvm'><name>x</domain>",               // mismatched end tag
      "<network><name>default</name></network>",           // another libvirt object
      "<domainsnapshot><name>s1</name></domainsnapshot>",  // a prefix of "domain" is not one
      "<capabilities/>",
  };
  for (std::string_view xml : cases) {
    EXPECT_FALSE(parse_domain_xml(xml).has_value()) << "xml: " << xml;
  }
}

TEST(GraphicsTypeName, Names) {
  EXPECT_EQ(console_kind_name(ConsoleKind::vnc), "vnc");
  EXPECT_EQ(console_kind_name(ConsoleKind::spice), "spice");
}

// ---------------------------------------------------------------------------
// effective_listen, one row per <graphics> element as libvirt writes it.

struct ListenRow {
  const char* name;
  std::string_view graphics_xml;
  bool running;
  ConsoleKind type;
  EffectiveListen::Kind kind;
  std::string_view address;
  int port;
  std::string_view socket;
};

void PrintTo(const ListenRow& row, std::ostream* os) { *os << row.name; }

class EffectiveListenTable : public testing::TestWithParam<ListenRow> {};

using K = EffectiveListen::Kind;

const ListenRow listen_rows[] = {
    {"AutoportNotYetAllocated",
     R"(<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)",
     false, ConsoleKind::vnc, K::not_started, "", -1, ""},
    {"PersistentShutOffNoAddress",
     R"(<graphics type='vnc' port='-1' autoport='yes'>
      <listen type='address'/>
    </graphics>)",
     false, ConsoleKind::vnc, K::not_started, "", -1, ""},
    {"RunningVncOnLoopback",
     R"(<graphics type='vnc' port='5900' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "127.0.0.1", 5900, ""},
    {"RunningSpiceOnLoopback",
     R"(<graphics type='spice' port='5901' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)",
     true, ConsoleKind::spice, K::tcp, "127.0.0.1", 5901, ""},
    {"Ipv6Loopback",
     R"(<graphics type='vnc' port='5902' autoport='yes' listen='::1'>
      <listen type='address' address='::1'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "::1", 5902, ""},
    {"Ipv6Wildcard",
     R"(<graphics type='vnc' port='5901' autoport='yes' listen='::'>
      <listen type='address' address='::'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "::", 5901, ""},
    {"Ipv4Wildcard",
     R"(<graphics type='vnc' port='5903' autoport='yes' listen='0.0.0.0'>
      <listen type='address' address='0.0.0.0'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "0.0.0.0", 5903, ""},
    {"RunningSocket",
     R"(<graphics type='vnc' socket='/var/lib/libvirt/qemu/domain-5-x/vnc.sock'>
      <listen type='socket' socket='/var/lib/libvirt/qemu/domain-5-x/vnc.sock'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::unix_socket, "", -1, "/var/lib/libvirt/qemu/domain-5-x/vnc.sock"},
    {"SocketOfShutOffDomain",
     R"(<graphics type='vnc'>
      <listen type='socket'/>
    </graphics>)",
     false, ConsoleKind::vnc, K::not_started, "", -1, ""},
    {"SocketAttributeOnly", R"(<graphics type='vnc' socket='/run/cgw/vnc.sock'/>)", true,
     ConsoleKind::vnc, K::unix_socket, "", -1, "/run/cgw/vnc.sock"},
    {"ListenTypeNone",
     R"(<graphics type='vnc'>
      <listen type='none'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::none, "", -1, ""},
    {"NetworkWithAddressFilledIn",
     R"(<graphics type='vnc' port='5901' autoport='yes' listen='192.168.122.1'>
      <listen type='network' address='192.168.122.1' network='default'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "192.168.122.1", 5901, ""},
    {"NetworkOfShutOffDomain",
     R"(<graphics type='vnc' port='-1' autoport='yes'>
      <listen type='network' network='default'/>
    </graphics>)",
     false, ConsoleKind::vnc, K::not_started, "", -1, ""},
    {"SpiceTlsPortOnly",
     R"(<graphics type='spice' port='-1' tlsPort='5901' autoport='no' listen='127.0.0.1' defaultMode='secure'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)",
     true, ConsoleKind::spice, K::tls_only, "127.0.0.1", 5901, ""},
    {"SpicePlainAndTlsPortUsesPlain",
     R"(<graphics type='spice' port='5900' tlsPort='5901' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>)",
     true, ConsoleKind::spice, K::tcp, "127.0.0.1", 5900, ""},
    {"LegacyListenAttributeOnly",
     R"(<graphics type='vnc' port='5904' autoport='no' listen='10.0.0.5'/>)", true,
     ConsoleKind::vnc, K::tcp, "10.0.0.5", 5904, ""},
    {"ListenChildWithoutAddressFallsBackToAttribute",
     R"(<graphics type='vnc' port='5905' autoport='no' listen='10.0.0.6'>
      <listen type='address'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "10.0.0.6", 5905, ""},
    {"NoListenAtAllDefaultsToLoopback", R"(<graphics type='vnc' port='5906' autoport='no'/>)", true,
     ConsoleKind::vnc, K::tcp, "127.0.0.1", 5906, ""},
    {"FirstListenWins",
     R"(<graphics type='vnc' port='5907' autoport='no' listen='10.0.0.7'>
      <listen type='address' address='10.0.0.7'/>
      <listen type='address' address='10.0.0.8'/>
    </graphics>)",
     true, ConsoleKind::vnc, K::tcp, "10.0.0.7", 5907, ""},
};

TEST_P(EffectiveListenTable, Row) {
  const ListenRow& row = GetParam();
  const std::string xml =
      domain_with(std::string("    ") + std::string(row.graphics_xml), row.running);
  const auto dom = parse_domain_xml(xml);
  ASSERT_TRUE(dom.has_value()) << xml;
  EXPECT_EQ(dom->has_id, row.running);
  ASSERT_EQ(dom->graphics.size(), 1u) << xml;
  EXPECT_EQ(dom->graphics[0].type, row.type);
  const EffectiveListen got = effective_listen(dom->graphics[0]);
  EXPECT_EQ(got.kind, row.kind);
  if (row.kind == K::tcp) {
    EXPECT_EQ(got.address, row.address);
    EXPECT_EQ(got.port, row.port);
  }
  if (row.kind == K::unix_socket) {
    EXPECT_EQ(got.socket, row.socket);
  }
}

INSTANTIATE_TEST_SUITE_P(LibvirtXml, EffectiveListenTable, testing::ValuesIn(listen_rows),
                         [](const testing::TestParamInfo<ListenRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

// The serial and console devices of a running domain, as libvirt 9.0 writes
// them: <console> mirrors serial0, so that alias is listed once.
TEST(ParseDomainXml, TextConsolesByAliasOnce) {
  const auto parsed = parse_domain_xml(R"(<domain type='qemu' id='3'>
  <name>cgw-it-serial</name>
  <uuid>d7d811a8-84ee-42b1-bc75-1d02f1ed21e1</uuid>
  <devices>
    <serial type='pty'>
      <source path='/dev/pts/3'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/3'>
      <source path='/dev/pts/3'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <console type='pty' tty='/dev/pts/4'>
      <source path='/dev/pts/4'/>
      <target type='virtio' port='1'/>
      <alias name='console1'/>
    </console>
  </devices>
</domain>)");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->text_consoles, (std::vector<std::string>{"serial0", "console1"}));
  // Inactive XML has no aliases: nothing to open.
  const auto inactive = parse_domain_xml(
      "<domain type='qemu'><name>x</name><devices><serial type='pty'/></devices></domain>");
  ASSERT_TRUE(inactive);
  EXPECT_TRUE(inactive->text_consoles.empty());
}

}  // namespace
}  // namespace cgw::libvirt
