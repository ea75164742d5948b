// What the gateway needs from a domain's live XML: its name, UUID, state hint
// and every <graphics> device with where it listens. Pure parsing, no libvirt.
#pragma once

#include "common/console_kind.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::libvirt {

struct GraphicsListen {
  enum class Type { address, network, socket, none };
  Type type = Type::address;
  std::string address;  // address and network listens (libvirt fills network's address when live)
  std::string network;  // network listens
  std::string socket;   // socket listens
};

struct Graphics {
  ConsoleKind type = ConsoleKind::vnc;  // vnc or spice
  int port = -1;                        // -1: not allocated (domain not running) or no TCP port
  int tls_port = -1;                    // SPICE only
  bool autoport = false;
  std::string listen_attribute;  // the legacy listen='...' attribute
  std::string socket;            // the socket='...' attribute (VNC)
  // The passwd='...' attribute: libvirt writes it only into XML read with
  // VIR_DOMAIN_XML_SECURE on a read-write connection. A secret: never logged.
  std::optional<std::string> password;
  std::vector<GraphicsListen> listens;
};

struct DomainXml {
  std::string name;
  std::string uuid;
  bool has_id = false;  // live XML of a running domain carries id='N'
  std::vector<Graphics> graphics;
  // The aliases of the <serial> and <console> devices (live XML: "serial0",
  // "console1"), each once, in document order: what virDomainOpenConsole opens.
  std::vector<std::string> text_consoles;
};

// Returns nullopt when the text is not a <domain> document.
std::optional<DomainXml> parse_domain_xml(std::string_view xml);

// Where a graphics device can be reached, as one of: a TCP address and port, a
// UNIX socket, or nowhere. Follows libvirt's rules: the first <listen> child
// wins; with none, the socket attribute, then the listen attribute; no listen
// at all means libvirt's default (127.0.0.1 unless qemu.conf says otherwise).
struct EffectiveListen {
  // not_started: no port or socket allocated yet (the domain is not running);
  // tls_only: a SPICE console with a TLS port and no plain one (`port` is then
  // its TLS port).
  enum class Kind { tcp, unix_socket, none, not_started, tls_only };
  Kind kind = Kind::none;
  std::string address;
  int port = -1;
  std::string socket;
};
EffectiveListen effective_listen(const Graphics& graphics);

}  // namespace cgw::libvirt
