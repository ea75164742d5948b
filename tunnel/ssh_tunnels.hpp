// SshTunnels: consoles reached through the hypervisor host's SSH server, for
// consoles that listen on the host's loopback or on its UNIX sockets.
//
// open() returns a ByteStream over an SSH channel: "direct-tcpip" for
// ConsolePath::Kind::ssh_tcp, "direct-streamlocal@openssh.com" for ssh_unix.
// All channels of one host (HostRoute::id) share ONE SSH session, opened on first
// use, verified strictly against the configured known_hosts, authenticated with
// a key file or ssh-agent, kept alive with SSH keepalives, dropped when it dies
// (the next open reconnects) and closed after `idle_close` without channels.
//
// libssh2 runs non-blocking on a strand per host, inside the event loop: no
// thread per channel and no blocking call on a network thread. Streams may be
// used from any strand (each call hops to the host's strand and back), with the
// ByteStream rules: one read_some and one write in flight, abort() any time.
//
// Defaults for empty SshSettings fields: user = the account console-gw runs as,
// known_hosts = that account's ~/.ssh/known_hosts.
//
// Threading: open(), live_sessions() and shutdown() may be called from any
// thread. Streams and pending opens end with an error after shutdown().
#pragma once

#include "tunnel/connector.hpp"
#include "tunnel/ssh_options.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cgw::tunnel {

class SshTunnels final : public TunnelProvider {
 public:
  explicit SshTunnels(boost::asio::any_io_executor executor, SshTunnelOptions options = {});
  ~SshTunnels() override;
  SshTunnels(const SshTunnels&) = delete;
  SshTunnels& operator=(const SshTunnels&) = delete;

  // Failures: hypervisor_unreachable ("SSH connection refused", "SSH timed out",
  // "SSH authentication failed", ...), host_key_not_trusted ("host key not
  // trusted"), console_unreachable ("console unreachable through SSH: <why>").
  // Resumes on the caller's executor.
  boost::asio::awaitable<ConnectResult> open(const HostRoute& host,
                                             const ConsolePath& path) override;

  // How many SSH connections to this host are up (normally 0 or 1; a session
  // being replaced after a settings change keeps its channels until they end).
  std::size_t live_sessions(std::string_view host_id) const;

  // Closes every session (open channels end with an error) and refuses new opens,
  // so that the io_context can run out of work. Returns at once; the closing
  // runs on each host's strand. Idempotent; the destructor calls it.
  void shutdown();

 private:
  class Host;
  std::shared_ptr<Host> host_for(const std::string& id);

  boost::asio::any_io_executor executor_;
  SshTunnelOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Host>> hosts_;
  bool shut_down_ = false;
};

}  // namespace cgw::tunnel
