#include "gateway/host_routes.hpp"

namespace cgw::gateway {

tunnel::HostRoute make_route(const HostConfig& host) {
  tunnel::HostRoute route;
  route.id = host.id;
  route.uri = host.uri;
  route.address = host.address;
  route.console_via_ssh = host.console_via_ssh;
  const auto uri = tunnel::parse_libvirt_uri(host.uri);
  if (uri) {
    route.local = tunnel::is_local(*uri);
    route.hostname = uri->host;
  }
  if (host.ssh) {
    tunnel::SshSettings ssh;
    ssh.host = !route.hostname.empty() ? route.hostname : host.address;
    ssh.port = host.ssh_port ? host.ssh_port
                             : (uri && uri->transport == "ssh" && uri->port ? uri->port : 22);
    // Empty user and known_hosts: the service account's (SshTunnels' defaults).
    ssh.user = !host.ssh_user.empty() ? host.ssh_user : (uri ? uri->user : std::string());
    ssh.key_file = host.ssh_key;
    ssh.use_agent = host.ssh_agent;
    ssh.known_hosts = host.known_hosts;
    route.ssh = std::move(ssh);
  }
  return route;
}

}  // namespace cgw::gateway
