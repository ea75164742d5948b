// libFuzzer target: libvirt::parse_domain_xml and effective_listen on any text,
// as a compromised or buggy libvirtd could send it. The seeds in
// corpus/domain_xml/ are live XML of VNC and SPICE domains with every kind of
// <listen>. Checked: nothing crashes or throws; every port taken from the XML is
// a TCP port or -1; an effective TCP or TLS listen has an address and a port.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "libvirt_adapter/domain_xml.hpp"

namespace {

using cgw::libvirt::DomainXml;
using cgw::libvirt::EffectiveListen;
using cgw::libvirt::Graphics;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "domain_xml_fuzz: %s\n", what);
  std::abort();
}

bool port_or_none(int port) { return port == -1 || (port > 0 && port <= 65535); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  const std::optional<DomainXml> domain = cgw::libvirt::parse_domain_xml(xml);
  if (!domain) return 0;
  for (const Graphics& graphics : domain->graphics) {
    check(port_or_none(graphics.port) && port_or_none(graphics.tls_port),
          "a port outside 1..65535 taken from the XML");
    const EffectiveListen listen = cgw::libvirt::effective_listen(graphics);
    switch (listen.kind) {
      case EffectiveListen::Kind::tcp:
      case EffectiveListen::Kind::tls_only:
        check(!listen.address.empty() && listen.port > 0 && listen.port <= 65535,
              "a TCP listen without an address or a port");
        break;
      case EffectiveListen::Kind::unix_socket:
        check(!listen.socket.empty(), "a UNIX listen without a path");
        break;
      case EffectiveListen::Kind::none:
      case EffectiveListen::Kind::not_started:
        break;
    }
  }
  return 0;
}
