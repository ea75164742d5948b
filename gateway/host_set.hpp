// HostSet: everything the gateway builds from [hosts] — each host's libvirt
// connection (libvirt::Hypervisors), its route (local, address, SSH
// settings), its console security (password files, console CA) and what the
// metrics report of it — as one value that a reload (SIGHUP) replaces whole.
//
// A session takes the current HostSet once, when it begins, and keeps it to
// its end: a console keeps streaming when its host is removed, and a new
// session sees the hosts as the last reload left them (a removed host's
// tokens get 4404, an added host works at once).
//
// A reload builds the new set from the old one: a host whose libvirt settings
// are unchanged keeps its connection and threads. The SSH sessions live in the
// Server's one tunnel::SshTunnels, which follows a host's settings by itself.
#pragma once

#include "gateway/authorize.hpp"
#include "gateway/config.hpp"
#include "gateway/console_security.hpp"
#include "gateway/gateway_metrics.hpp"
#include "libvirt_adapter/hypervisors.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cgw::tunnel {
class SshTunnels;
}

namespace cgw::gateway {

struct HostSet {
  std::unique_ptr<libvirt::Hypervisors> hypervisors;  // never null
  HostRoutes routes;
  HostSecurities security;
  HostStateSources states;  // for the metrics; refers to *hypervisors
};

// How a set that is no longer used is destroyed: Hypervisors' destructor waits
// for calls still inside libvirt, so it must not run on a network thread.
// Called with the set's ownership; null: destroyed where the last owner let go.
using HostSetRetirer = std::function<void(HostSet*)>;

// Builds the set for `config`'s hosts, reusing `previous`'s libvirt connection
// of each host whose libvirt settings are equal. `ssh` (may be null) is where
// the metrics read the SSH sessions' state. Throws ConfigError with one line
// (an unreadable password file, a bad console_ca, ...), leaving `previous` as
// it was.
std::shared_ptr<const HostSet> load_host_set(const Config& config, const HostSet* previous,
                                             const tunnel::SshTunnels* ssh,
                                             HostSetRetirer retire = nullptr);

// The host IDs that `after` adds to `before`, those it lacks, and those whose
// settings changed (for the reload's log line).
struct HostChanges {
  std::vector<std::string> added, removed, changed;
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
HostChanges host_changes(const std::vector<HostConfig>& before,
                         const std::vector<HostConfig>& after);

// The HostSet new sessions get. Any thread may read or replace it.
class CurrentHostSet {
 public:
  explicit CurrentHostSet(std::shared_ptr<const HostSet> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const HostSet> get() const { return current_.load(); }
  void replace(std::shared_ptr<const HostSet> next) { current_.store(std::move(next)); }

 private:
  std::atomic<std::shared_ptr<const HostSet>> current_;
};

}  // namespace cgw::gateway
