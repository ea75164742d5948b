#include "tunnel/console_path.hpp"

#include <boost/asio/ip/address.hpp>

namespace cgw::tunnel {
namespace {

ConsolePath refused(std::string why, bool needs_ssh = false) {
  ConsolePath path;
  path.kind = ConsolePath::Kind::refused;
  path.refusal = std::move(why);
  path.needs_ssh = needs_ssh;
  return path;
}

ConsolePath tcp(ConsolePath::Kind kind, std::string address, std::uint16_t port) {
  ConsolePath path;
  path.kind = kind;
  path.address = std::move(address);
  path.port = port;
  return path;
}

ConsolePath unix_socket(ConsolePath::Kind kind, std::string socket_path) {
  ConsolePath path;
  path.kind = kind;
  path.socket_path = std::move(socket_path);
  return path;
}

// The loopback address of the wildcard's family: a console on 0.0.0.0 is also on 127.0.0.1.
std::string loopback_for(std::string_view wildcard) {
  return wildcard.find(':') != std::string_view::npos ? "::1" : "127.0.0.1";
}

}  // namespace

bool is_loopback_address(std::string_view address) {
  if (address == "localhost" || address == "localhost.localdomain") return true;
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  if (ec) return false;
  if (parsed.is_v6() && parsed.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, parsed.to_v6())
        .is_loopback();
  }
  return parsed.is_loopback();
}

bool is_wildcard_address(std::string_view address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_unspecified();
}

ConsolePath choose_path(const HostRoute& host, const ConsoleListen& listen) {
  using Kind = ConsolePath::Kind;
  const bool ssh = host.ssh.has_value();

  switch (listen.kind) {
    case ConsoleListen::Kind::none:
      return refused("console does not listen anywhere (listen type none)");

    case ConsoleListen::Kind::unix_socket:
      if (listen.socket_path.empty()) return refused("console socket path is unknown");
      if (host.local && !host.console_via_ssh)
        return unix_socket(Kind::local_unix, listen.socket_path);
      if (ssh) return unix_socket(Kind::ssh_unix, listen.socket_path);
      return refused("console is a UNIX socket on host " + host.id + "; it needs the SSH tunnel",
                     true);

    case ConsoleListen::Kind::tcp:
      break;
  }

  if (listen.port == 0) return refused("console has no port");
  const std::string& address = listen.address;

  if (is_wildcard_address(address)) {
    // Listening everywhere: reachable on the host's loopback through SSH, or on
    // any of its addresses directly.
    if (ssh && host.console_via_ssh) return tcp(Kind::ssh_tcp, loopback_for(address), listen.port);
    if (!host.address.empty()) return tcp(Kind::direct_tcp, host.address, listen.port);
    if (host.local) return tcp(Kind::direct_tcp, loopback_for(address), listen.port);
    if (!host.hostname.empty()) return tcp(Kind::direct_tcp, host.hostname, listen.port);
    return refused("console listens on " + address + " but host " + host.id + " has no address");
  }

  if (is_loopback_address(address)) {
    if (host.local && !host.console_via_ssh) return tcp(Kind::direct_tcp, address, listen.port);
    if (ssh) return tcp(Kind::ssh_tcp, address, listen.port);
    return refused(
        "console listens on " + address + " of host " + host.id + "; it needs the SSH tunnel",
        true);
  }

  if (ssh && host.console_via_ssh) return tcp(Kind::ssh_tcp, address, listen.port);
  return tcp(Kind::direct_tcp, address, listen.port);
}

}  // namespace cgw::tunnel
