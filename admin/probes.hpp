// Probes of a hypervisor host for `console-gw setup` and `check`: can libvirt
// connect, and can the gateway's SSH tunnel reach, trust and log in to the host.
// They block (these are command-line tools, not the network threads) and each
// is bounded by its timeout.
#pragma once

#include "tunnel/host_route.hpp"

#include <chrono>
#include <string>

namespace cgw::admin {

struct LibvirtProbe {
  bool ok = false;
  std::string detail;  // "libvirt 9.0.0 on kvm01" or why not
};

// Opens `uri` (read-only unless `read_write`), asks for the host name and the
// libvirt version, and closes it again.
LibvirtProbe probe_libvirt(const std::string& uri, bool read_write,
                           std::chrono::milliseconds timeout);

struct SshProbe {
  enum class Stage { unreachable, handshake_failed, host_key, auth_failed, ok };
  Stage stage = Stage::unreachable;
  // Set from the handshake on (stage >= host_key).
  std::string key_type;     // "ssh-ed25519"
  std::string fingerprint;  // "SHA256:..."
  std::string key_base64;   // the key as known_hosts writes it
  bool key_trusted = false;
  std::string key_verdict;  // "trusted", "unknown", "changed", ...
  std::string detail;       // one sentence: what happened
};

// Connects to settings.host:port, reads its host key and checks it against
// settings.known_hosts (empty: ~/.ssh/known_hosts); when the key is trusted and
// `authenticate` is set, logs in with the key file or the agent.
SshProbe probe_ssh(const tunnel::SshSettings& settings, bool authenticate,
                   std::chrono::milliseconds timeout);

// For a qemu+ssh:// URI: the same host over libvirt's libssh2 transport with the
// given key and known_hosts, so that a probe run by root tests the files the
// service uses rather than root's ~/.ssh. Other URIs come back unchanged.
std::string libvirt_uri_with_ssh_files(const std::string& uri, const std::string& key_file,
                                       const std::string& known_hosts);

// The known_hosts line that trusts the key probe_ssh() saw: "[host]:port type key".
std::string known_hosts_line(const tunnel::SshSettings& settings, const SshProbe& probe);

// The known_hosts file the tunnel uses for `settings` (its default when empty).
std::string effective_known_hosts(const tunnel::SshSettings& settings);

}  // namespace cgw::admin
