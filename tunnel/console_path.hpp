// Path selection: how to reach a console, decided from plain data only (the
// host's route and the console's listen address), so it can be tested by a table.
#pragma once

#include "tunnel/host_route.hpp"

#include <cstdint>
#include <string>

namespace cgw::tunnel {

// Where the console server listens, as the hypervisor reports it.
struct ConsoleListen {
  enum class Kind { tcp, unix_socket, none };
  Kind kind = Kind::none;
  std::string address;  // tcp: the listen address ("127.0.0.1", "::", "0.0.0.0", a name)
  std::uint16_t port = 0;
  std::string socket_path;  // unix_socket
};

struct ConsolePath {
  enum class Kind {
    direct_tcp,  // connect `address`:`port` from here
    local_unix,  // connect the UNIX socket `socket_path` on this machine
    ssh_tcp,     // through the host's SSH: direct-tcpip to `address`:`port`
    ssh_unix,    // through the host's SSH: direct-streamlocal to `socket_path`
    refused,     // no way there; `refusal` says why
  };
  Kind kind = Kind::refused;
  std::string address;
  std::uint16_t port = 0;
  std::string socket_path;
  std::string refusal;
  // refused because the console needs the SSH tunnel, which the host doesn't allow
  bool needs_ssh = false;
};

bool is_loopback_address(std::string_view address);
bool is_wildcard_address(std::string_view address);

ConsolePath choose_path(const HostRoute& host, const ConsoleListen& listen);

}  // namespace cgw::tunnel
