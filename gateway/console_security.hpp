// What the gateway uses to complete a host's consoles' own security (the RFB
// layer, TLS to the console), read from the host's config at start-up and at
// each reload (gateway/host_set.hpp): the VNC password from a file, the console
// CA, client certificate and key. Shared read-only by the sessions of its set.
#pragma once

#include "console_tls/client_context.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cgw::gateway {

struct HostConfig;

struct HostSecurity {
  // The gateway speaks RFB to the VNC server and offers the browser None
  // (vnc_security = "gateway"); otherwise VNC bytes pass untouched.
  bool rfb = true;
  bool password_from_libvirt = false;   // <graphics passwd>, read with VIR_DOMAIN_XML_SECURE
  std::optional<std::string> password;  // from vnc_password_file
  // SPICE tickets, answered by the gateway (spice/ticket.hpp).
  bool spice_password_from_libvirt = false;
  std::optional<std::string> spice_password;              // from spice_password_file
  std::shared_ptr<const console_tls::ClientContext> tls;  // console_ca (+ cert, key)
  std::string tls_name;             // console_tls_name; empty: the host's address or name
  bool client_certificate = false;  // console_cert given
  bool record = false;              // record = true: every session is recorded
};

using HostSecurities = std::map<std::string, HostSecurity, std::less<>>;

// Reads the host's password file and TLS files. Throws ConfigError naming the
// file, the key and the problem.
HostSecurity load_host_security(const HostConfig& host, const std::string& origin);

}  // namespace cgw::gateway
