// Server: the console-gw service. Owns the listening socket, the event loop and
// its threads, and the shared services every session uses (token verifier,
// libvirt connections, console connector, TLS context).
//
// Construction checks everything that can be checked before serving (keys,
// certificates, the token key) and throws ConfigError with one line naming what
// is wrong. start() binds; run() serves until stop(), which any thread may call.
#pragma once

#include "gateway/config.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace cgw::tunnel {
class TunnelProvider;
}

namespace cgw::gateway {

class Server {
 public:
  explicit Server(Config config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; throws std::system_error when the address can't be used.
  void start();
  // The bound port (useful after binding port 0).
  std::uint16_t port() const;
  // Serves on the configured number of threads (this one included) until stop().
  void run();
  // Any thread may call stop(): open consoles are closed with 1001 "gateway
  // restarting" (up to 5 s for their close handshakes), then run() returns.
  // stop_on_signals() makes SIGINT and SIGTERM call it.
  void stop();
  // A graceful stop: no new connections; open consoles go on until they end
  // or `deadline` passes, then stop(). Any thread may call it; stop() at any
  // time cuts it short. stop_on_signals(): the first SIGTERM or SIGINT drains
  // for gateway.drain_timeout, a second one stops at once.
  void drain(std::chrono::milliseconds deadline);
  void stop_on_signals();

  // Applies what may change while serving from `next`, a configuration read
  // afresh (the same file and flags): the token key and policy, the TLS
  // certificate and key, the log level and [hosts] (added, removed, changed;
  // an unchanged host keeps its libvirt connection and SSH session). New
  // connections get them; established sessions keep what they began with (a
  // removed host's consoles go on; its connection closes after the last).
  // Other settings that differ are logged as needing a restart. Throws
  // ConfigError, changing nothing, when `next`'s key, certificate or a host's
  // files (password, console CA) can't be loaded. Any thread may call it.
  void reload(const Config& next);
  // SIGHUP calls `read` (which re-reads the configuration and throws
  // ConfigError when it is broken), then reload(). A ConfigError is logged in
  // one line and the configuration in use keeps serving.
  void reload_on_sighup(std::function<Config()> read);

  struct Impl;  // defined in server.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgw::gateway
