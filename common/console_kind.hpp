// ConsoleKind: which console of a domain a session is for. One type, shared by
// the token (its "console" claim), the domain lookup (a <graphics> device's
// type) and the console openers, so that a new kind is added in one place.
#pragma once

#include <optional>
#include <string_view>

namespace cgw {

enum class ConsoleKind {
  vnc,    // <graphics type='vnc'>: RFB on a TCP port or a UNIX socket
  spice,  // <graphics type='spice'>: SPICE on a TCP port
  serial  // a serial or text console, opened through libvirt (a stream)
};

// "vnc", "spice", "serial": the names tokens and the log use.
constexpr std::string_view console_kind_name(ConsoleKind kind) {
  switch (kind) {
    case ConsoleKind::vnc:
      return "vnc";
    case ConsoleKind::spice:
      return "spice";
    case ConsoleKind::serial:
      return "serial";
  }
  return "unknown";
}

// The kind a name stands for, or nullopt.
constexpr std::optional<ConsoleKind> parse_console_kind(std::string_view name) {
  for (const ConsoleKind kind : {ConsoleKind::vnc, ConsoleKind::spice, ConsoleKind::serial}) {
    if (console_kind_name(kind) == name) return kind;
  }
  return std::nullopt;
}

// Consoles that are a <graphics> device reached through a socket (VNC, SPICE).
constexpr bool is_graphics(ConsoleKind kind) { return kind != ConsoleKind::serial; }

}  // namespace cgw
