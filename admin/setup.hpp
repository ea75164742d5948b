// `console-gw setup`: puts the gateway on a host of its own in one command, as
// oVirt's engine-setup did for its websocket proxy. It asks (or reads from an
// answers file) the host's name, the port, the TLS certificate, the token key,
// the hypervisor hosts (testing each, and recording each SSH host key after
// showing its fingerprint), the systemd unit and the firewall; shows the
// configuration to confirm; then writes it and prints what the management UI
// needs. Re-running it changes only what differs.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

namespace cgw::admin {

struct SetupOptions {
  std::string answers_file;  // --answers FILE: non-interactive
  bool dry_run = false;      // --dry-run: show what would change, change nothing
  std::string root = "/";    // --root DIR: write under another root (tests, images)
  std::chrono::milliseconds host_timeout{10000};
};

// Returns the exit status: 0 done (or nothing confirmed), 1 a step failed,
// 2 a wrong answer in the answers file or input ended.
int run_setup(const SetupOptions& options, std::istream& in, std::ostream& out);

}  // namespace cgw::admin
