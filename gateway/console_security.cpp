#include "gateway/console_security.hpp"

#include "gateway/config.hpp"

#include <fstream>
#include <stdexcept>

namespace cgw::gateway {

HostSecurity load_host_security(const HostConfig& host, const std::string& origin) {
  HostSecurity out;
  out.rfb = host.vnc_security_gateway;
  out.password_from_libvirt = host.vnc_password_from_libvirt;
  const std::string key = origin + ": hosts." + host.id + ".";
  if (!host.vnc_password_file.empty()) {
    std::ifstream in(host.vnc_password_file);
    std::string line;
    if (!in || !std::getline(in, line)) {
      throw ConfigError(key + "vnc_password_file: cannot read " + host.vnc_password_file);
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      throw ConfigError(key + "vnc_password_file: " + host.vnc_password_file +
                        " has an empty first line");
    }
    out.password = std::move(line);
  }
  if (!host.console_ca.empty()) {
    try {
      out.tls = console_tls::ClientContext::load(
          console_tls::TlsClientSettings{host.console_ca, host.console_cert, host.console_key});
    } catch (const std::runtime_error& e) {
      // "console_cert /path: problem" → "…: hosts.<id>.console_cert: /path: problem"
      const std::string what = e.what();
      for (const char* setting : {"console_ca", "console_cert", "console_key"}) {
        const std::string word = std::string(setting) + " ";
        if (what.starts_with(word)) {
          throw ConfigError(key + setting + ": " + what.substr(word.size()));
        }
      }
      throw ConfigError(key + "console_ca: " + what);
    }
    out.tls_name = host.console_tls_name;
    out.client_certificate = !host.console_cert.empty();
  }
  return out;
}

}  // namespace cgw::gateway
