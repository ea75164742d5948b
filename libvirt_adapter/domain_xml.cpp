#include "libvirt_adapter/domain_xml.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cgw::libvirt {
namespace {

int port_attribute(const pugi::xml_node& node, const char* name) {
  const pugi::xml_attribute attr = node.attribute(name);
  if (!attr) return -1;
  const int value = attr.as_int(-1);
  return value > 0 && value <= 65535 ? value : -1;
}

std::optional<GraphicsListen::Type> listen_type(std::string_view text) {
  if (text == "address") return GraphicsListen::Type::address;
  if (text == "network") return GraphicsListen::Type::network;
  if (text == "socket") return GraphicsListen::Type::socket;
  if (text == "none") return GraphicsListen::Type::none;
  return std::nullopt;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::optional<DomainXml> parse_domain_xml(std::string_view xml) {
  pugi::xml_document doc;
  // No entity expansion beyond the XML builtins; pugixml never fetches anything.
  const auto parsed = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default);
  if (!parsed) return std::nullopt;
  const pugi::xml_node domain = doc.child("domain");
  if (!domain) return std::nullopt;

  DomainXml out;
  out.name = domain.child_value("name");
  out.uuid = lower(domain.child_value("uuid"));
  out.has_id = static_cast<bool>(domain.attribute("id"));

  for (const pugi::xml_node node : domain.child("devices").children("graphics")) {
    Graphics graphics;
    const std::string_view type = node.attribute("type").as_string();
    if (type == "vnc") {
      graphics.type = ConsoleKind::vnc;
    } else if (type == "spice") {
      graphics.type = ConsoleKind::spice;
    } else {
      continue;  // sdl, rdp, dbus, egl-headless: not reachable over a socket
    }
    graphics.port = port_attribute(node, "port");
    graphics.tls_port = port_attribute(node, "tlsPort");
    graphics.autoport = std::string_view(node.attribute("autoport").as_string()) == "yes";
    graphics.listen_attribute = node.attribute("listen").as_string();
    graphics.socket = node.attribute("socket").as_string();
    if (const pugi::xml_attribute passwd = node.attribute("passwd")) {
      graphics.password = passwd.as_string();
    }
    for (const pugi::xml_node child : node.children("listen")) {
      auto kind = listen_type(child.attribute("type").as_string());
      if (!kind) continue;
      GraphicsListen listen;
      listen.type = *kind;
      listen.address = child.attribute("address").as_string();
      listen.network = child.attribute("network").as_string();
      listen.socket = child.attribute("socket").as_string();
      graphics.listens.push_back(std::move(listen));
    }
    out.graphics.push_back(std::move(graphics));
  }
  for (const pugi::xml_node node : domain.child("devices").children()) {
    const std::string_view element = node.name();
    if (element != "serial" && element != "console") continue;
    const std::string alias = node.child("alias").attribute("name").as_string();
    if (alias.empty()) continue;  // inactive XML has no aliases
    if (std::find(out.text_consoles.begin(), out.text_consoles.end(), alias) ==
        out.text_consoles.end()) {
      out.text_consoles.push_back(alias);
    }
  }
  return out;
}

EffectiveListen effective_listen(const Graphics& graphics) {
  EffectiveListen out;
  auto tcp = [&](std::string address) {
    if (graphics.port <= 0) {
      if (graphics.tls_port <= 0) {
        out.kind = EffectiveListen::Kind::not_started;
        return out;
      }
      out.kind = EffectiveListen::Kind::tls_only;
      out.address = address.empty() ? "127.0.0.1" : std::move(address);
      out.port = graphics.tls_port;
      return out;
    }
    out.kind = EffectiveListen::Kind::tcp;
    out.address = address.empty() ? "127.0.0.1" : std::move(address);
    out.port = graphics.port;
    return out;
  };
  auto unix_socket = [&](std::string path) {
    out.kind =
        path.empty() ? EffectiveListen::Kind::not_started : EffectiveListen::Kind::unix_socket;
    out.socket = std::move(path);
    return out;
  };

  if (!graphics.listens.empty()) {
    const GraphicsListen& first = graphics.listens.front();
    switch (first.type) {
      case GraphicsListen::Type::none:
        out.kind = EffectiveListen::Kind::none;
        return out;
      case GraphicsListen::Type::socket:
        return unix_socket(first.socket.empty() ? graphics.socket : first.socket);
      case GraphicsListen::Type::address:
      case GraphicsListen::Type::network:
        return tcp(first.address.empty() ? graphics.listen_attribute : first.address);
    }
  }
  if (!graphics.socket.empty()) return unix_socket(graphics.socket);
  return tcp(graphics.listen_attribute);
}

}  // namespace cgw::libvirt
