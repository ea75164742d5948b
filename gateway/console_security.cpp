#include "gateway/console_security.hpp"

#include "gateway/config.hpp"

#include <fstream>
#include <stdexcept>

namespace cgw::gateway {
namespace {

// The first line of a password file; nullopt when no file is configured.
std::optional<std::string> read_password(const std::string& file, const std::string& key) {
  if (file.empty()) return std::nullopt;
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) throw ConfigError(key + ": cannot read " + file);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) throw ConfigError(key + ": " + file + " has an empty first line");
  return line;
}

}  // namespace

HostSecurity load_host_security(const HostConfig& host, const std::string& origin) {
  HostSecurity out;
  out.rfb = host.vnc_security_gateway;
  out.record = host.record;
  out.password_from_libvirt = host.vnc_password_from_libvirt;
  const std::string key = origin + ": hosts." + host.id + ".";
  out.password = read_password(host.vnc_password_file, key + "vnc_password_file");
  out.spice_password_from_libvirt = host.spice_password_from_libvirt;
  out.spice_password = read_password(host.spice_password_file, key + "spice_password_file");
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
