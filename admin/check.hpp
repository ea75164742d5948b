// `console-gw check`: validates an installed gateway as `nginx -t` does a web
// server's: the config, the token key, the TLS certificate, the browser clients'
// files, and every hypervisor host (libvirt, and the SSH tunnel's host key and
// login). One line per item; the exit status is non-zero when any item failed.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

namespace cgw::gateway {
struct Config;
}

namespace cgw::admin {

struct CheckItem {
  enum class Status { ok, warn, fail };
  Status status = Status::ok;
  std::string item;    // "config", "token key", "host kvm01 libvirt", ...
  std::string detail;  // one sentence
};

struct CheckOptions {
  std::string config_file = "/etc/console-gw/console-gw.toml";
  bool probe_hosts = true;  // --no-hosts: only the local files
  std::chrono::milliseconds host_timeout{10000};
  std::chrono::hours expiry_warning{24 * 30};  // certificates closer to expiry get a warning
};

// Checks a loaded config (everything but the file's own syntax).
std::vector<CheckItem> check_config(const gateway::Config& config, const CheckOptions& options);

// Reads options.config_file and checks it; prints one line per item and a
// summary to `out`. Returns 0 when nothing failed, 1 otherwise.
int run_check(const CheckOptions& options, std::ostream& out);

// "ok    host kvm01 libvirt   libvirt 9.0.0 on kvm01"
std::string format_item(const CheckItem& item);

}  // namespace cgw::admin
