// HostRoute: what the gateway knows about reaching one hypervisor host's
// consoles, as plain data. Built from the host's libvirt URI and its config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::tunnel {

// How to open SSH to the host, for consoles only it can reach (its loopback or
// its UNIX sockets). Filled from the URI (qemu+ssh://user@host:port/...) and the
// host's config (ssh_key, known_hosts, ...).
struct SshSettings {
  std::string host;
  std::uint16_t port = 22;
  std::string user;
  std::string key_file;     // private key (ed25519 or RSA); empty when use_agent
  bool use_agent = false;   // authenticate through $SSH_AUTH_SOCK
  std::string known_hosts;  // host keys are verified strictly against this file
};

struct HostRoute {
  std::string id;
  std::string uri;
  bool local = false;    // the hypervisor runs on this machine (qemu:///system, test:///...)
  std::string hostname;  // the URI's host; empty for local URIs
  std::string address;   // where consoles listening on 0.0.0.0 / :: are reached
  std::optional<SshSettings> ssh;  // set when consoles may be tunnelled through SSH
  bool console_via_ssh = false;    // tunnel even consoles on routable addresses
};

// The parts of a libvirt URI that routing needs.
struct LibvirtUri {
  std::string driver;     // "qemu", "test", ...
  std::string transport;  // "", "ssh", "tls", "tcp", "unix", "libssh2", "libssh"
  std::string user;
  std::string host;
  std::uint16_t port = 0;
};

// Parses "driver[+transport]://[user@][host][:port]/path[?query]". Returns nullopt
// when it is not of that form.
std::optional<LibvirtUri> parse_libvirt_uri(std::string_view uri);

// A host is local when its URI names no host (qemu:///system, qemu+unix:///system,
// test:///default): its consoles' loopback addresses and sockets are ours.
bool is_local(const LibvirtUri& uri);

}  // namespace cgw::tunnel
