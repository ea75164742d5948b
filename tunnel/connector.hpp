// Connector: the ConsoleOpener for socket consoles: opens the console stream
// for a chosen ConsolePath.
//
// Direct TCP and local UNIX sockets are opened here; SSH paths go to the
// TunnelProvider given at construction (the SSH tunnel component). Without one,
// SSH paths fail with Failure::needs_ssh.
//
// connect() runs on the caller's executor (a session's thread) and never blocks it.
// The Connector itself is immutable after construction and may be shared by all
// sessions; the TunnelProvider synchronises itself.
#pragma once

#include "tunnel/console_opener.hpp"

#include <chrono>
#include <memory>

namespace cgw::tunnel {

// The seam for tunnelled paths (ConsolePath::Kind::ssh_tcp / ssh_unix).
class TunnelProvider {
 public:
  virtual ~TunnelProvider() = default;
  virtual boost::asio::awaitable<ConnectResult> open(const HostRoute& host,
                                                     const ConsolePath& path) = 0;
};

struct ConnectorOptions {
  std::chrono::milliseconds connect_timeout{5000};
};

class Connector final : public ConsoleOpener {
 public:
  explicit Connector(ConnectorOptions options, std::shared_ptr<TunnelProvider> tunnels = nullptr);

  // ConsoleOpener: connect(console.host, console.path).
  boost::asio::awaitable<ConnectResult> open(const ConsoleSpec& console) const override;

  boost::asio::awaitable<ConnectResult> connect(const HostRoute& host,
                                                const ConsolePath& path) const;

 private:
  ConnectorOptions options_;
  std::shared_ptr<TunnelProvider> tunnels_;
};

}  // namespace cgw::tunnel
