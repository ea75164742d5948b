#include "admin/commands.hpp"

#include "admin/check.hpp"
#include "admin/setup.hpp"
#include "gateway/config.hpp"

#include <iostream>

namespace cgw::admin {
namespace {

constexpr const char* setup_usage =
    R"(usage: console-gw setup [--answers FILE] [--dry-run] [--root DIR]

Makes this host a console gateway: asks for its DNS name, the port, the TLS
certificate (self-signed, a CSR for your CA, or imported), the token key
(a new Ed25519 pair, or the management UI's public key), the hypervisor hosts
(each tested; SSH host keys recorded after you confirm their fingerprints),
the systemd unit and the firewall. Shows the configuration to confirm, writes
it, and prints what the management UI needs. Running it again changes only
what differs.

  --answers FILE  take the answers from a TOML file instead of asking
                  (see docs/deployment.md); missing answers take the defaults
  --dry-run       show what would change, change nothing
  --root DIR      write under DIR instead of / (image builds, tests)
)";

constexpr const char* check_usage =
    R"(usage: console-gw check [--config FILE] [--no-hosts] [--timeout 10s]

Checks the configuration, the token key, the TLS certificate (a warning when
it expires within 30 days) and every hypervisor host (libvirt; the SSH
tunnel's host key and login), one line each. Exits 1 when anything failed.
Run it as the service's account to check what the service can reach:
  runuser -u console-gw -- console-gw check
)";

int usage_error(const std::string& command, const std::string& problem) {
  std::cerr << "console-gw " << command << ": " << problem << " (see console-gw " << command
            << " --help)\n";
  return 2;
}

}  // namespace

int setup_main(const std::vector<std::string>& args) {
  SetupOptions options;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const std::string& flag) -> const std::string* {
      if (i + 1 >= args.size()) return nullptr;
      (void)flag;
      return &args[++i];
    };
    if (a == "--help" || a == "-h") {
      std::cout << setup_usage;
      return 0;
    } else if (a == "--dry-run") {
      options.dry_run = true;
    } else if (a == "--answers" || a == "--root") {
      const std::string* v = value(a);
      if (!v) return usage_error("setup", a + ": needs a value");
      (a == "--answers" ? options.answers_file : options.root) = *v;
    } else {
      return usage_error("setup", a + ": unknown option");
    }
  }
  return run_setup(options, std::cin, std::cout);
}

int check_main(const std::vector<std::string>& args) {
  CheckOptions options;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::cout << check_usage;
      return 0;
    } else if (a == "--no-hosts") {
      options.probe_hosts = false;
    } else if (a == "--config" || a == "--timeout") {
      if (i + 1 >= args.size()) return usage_error("check", a + ": needs a value");
      const std::string& v = args[++i];
      if (a == "--config") {
        options.config_file = v;
      } else {
        auto t = gateway::parse_duration(v);
        if (!t || t->count() <= 0) return usage_error("check", "--timeout: not a duration: " + v);
        options.host_timeout = *t;
      }
    } else {
      return usage_error("check", a + ": unknown option");
    }
  }
  return run_check(options, std::cout);
}

}  // namespace cgw::admin
