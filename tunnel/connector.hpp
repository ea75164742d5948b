// Connector: opens the console stream for a chosen ConsolePath.
//
// Direct TCP and local UNIX sockets are opened here; SSH paths go to the
// TunnelProvider given at construction (the SSH tunnel component). Without one,
// SSH paths fail with Failure::needs_ssh.
//
// connect() runs on the caller's executor (a session's thread) and never blocks it.
// The Connector itself is immutable after construction and may be shared by all
// sessions; the TunnelProvider synchronises itself.
#pragma once

#include "stream/byte_stream.hpp"
#include "tunnel/console_path.hpp"
#include "tunnel/host_route.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace cgw::tunnel {

namespace net = boost::asio;

struct ConnectResult {
  enum class Failure {
    none,
    console_unreachable,     // the console's address or socket refused or timed out
    needs_ssh,               // the console is only reachable through SSH, not configured
    hypervisor_unreachable,  // SSH to the host failed: down, auth, timeout
    host_key_not_trusted,    // SSH host key unknown or changed
  };
  std::unique_ptr<stream::ByteStream> stream;
  Failure failure = Failure::none;
  std::string reason;       // short, for the close reason and the log
  std::string description;  // where the stream goes, for the log ("tcp 127.0.0.1:5900")
  explicit operator bool() const { return stream != nullptr; }

  static ConnectResult failed(Failure failure, std::string reason, std::string description) {
    ConnectResult result;
    result.failure = failure;
    result.reason = std::move(reason);
    result.description = std::move(description);
    return result;
  }
};

// The seam for tunnelled paths (ConsolePath::Kind::ssh_tcp / ssh_unix).
class TunnelProvider {
 public:
  virtual ~TunnelProvider() = default;
  virtual net::awaitable<ConnectResult> open(const HostRoute& host, const ConsolePath& path) = 0;
};

struct ConnectorOptions {
  std::chrono::milliseconds connect_timeout{5000};
};

class Connector {
 public:
  explicit Connector(ConnectorOptions options, std::shared_ptr<TunnelProvider> tunnels = nullptr);

  net::awaitable<ConnectResult> connect(const HostRoute& host, const ConsolePath& path) const;

 private:
  ConnectorOptions options_;
  std::shared_ptr<TunnelProvider> tunnels_;
};

}  // namespace cgw::tunnel
