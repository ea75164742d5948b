#include "gateway/host_set.hpp"

#include "gateway/config.hpp"
#include "gateway/host_routes.hpp"

#include <algorithm>

namespace cgw::gateway {
namespace {

std::string origin_of(const Config& config) {
  return config.file.empty() ? "command line" : config.file;
}

std::vector<libvirt::HostSpec> host_specs(const Config& config) {
  std::vector<libvirt::HostSpec> specs;
  for (const HostConfig& host : config.hosts) {
    specs.push_back(
        {host.id, host.uri, host.vnc_password_from_libvirt || host.spice_password_from_libvirt});
  }
  return specs;
}

const HostConfig* find_host(const std::vector<HostConfig>& hosts, const std::string& id) {
  const auto it =
      std::find_if(hosts.begin(), hosts.end(), [&id](const HostConfig& h) { return h.id == id; });
  return it == hosts.end() ? nullptr : &*it;
}

}  // namespace

std::shared_ptr<const HostSet> load_host_set(const Config& config, const HostSet* previous,
                                             const tunnel::SshTunnels* ssh, HostSetRetirer retire) {
  // The files first: a broken one throws before any connection is touched.
  HostSecurities security;
  for (const HostConfig& host : config.hosts) {
    security.emplace(host.id, load_host_security(host, origin_of(config)));
  }
  libvirt::HypervisorOptions options{config.libvirt_timeout};
  options.threads_per_host = config.libvirt_threads;
  auto hypervisors = previous ? std::make_unique<libvirt::Hypervisors>(host_specs(config), options,
                                                                       *previous->hypervisors)
                              : std::make_unique<libvirt::Hypervisors>(host_specs(config), options);
  HostStateSources states{*hypervisors, ssh, {}, {}};
  for (const HostConfig& host : config.hosts) {
    states.hosts.push_back(host.id);
    if (host.ssh) states.ssh_hosts.push_back(host.id);
  }
  HostRoutes routes;
  for (const HostConfig& host : config.hosts) routes.emplace(host.id, make_route(host));
  auto* set = new HostSet{std::move(hypervisors), std::move(routes), std::move(security),
                          std::move(states)};
  if (!retire) return std::shared_ptr<const HostSet>(set);
  return std::shared_ptr<const HostSet>(set, [retire = std::move(retire)](const HostSet* done) {
    retire(const_cast<HostSet*>(done));
  });
}

HostChanges host_changes(const std::vector<HostConfig>& before,
                         const std::vector<HostConfig>& after) {
  HostChanges out;
  for (const HostConfig& host : after) {
    const HostConfig* was = find_host(before, host.id);
    if (!was) {
      out.added.push_back(host.id);
    } else if (!(*was == host)) {
      out.changed.push_back(host.id);
    }
  }
  for (const HostConfig& host : before) {
    if (!find_host(after, host.id)) out.removed.push_back(host.id);
  }
  return out;
}

}  // namespace cgw::gateway
