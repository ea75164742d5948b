// The real gateway::Server in the test's process for the gateway_server_tests:
// one host, "fake" (libvirt's test driver, no libvirtd), whose "echo" domain's
// console is an EchoConsole of its own or a port the test gives; its "closed"
// domain's console refuses. Runs on a thread of its own from construction to
// destruction (or to a stop() the test calls through server()).
#pragma once

#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/echo_console.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace cgw::test {

class InProcessGateway {
 public:
  enum class Tls { off, on };
  // The defaults (127.0.0.1, a free port, two network threads, an HS256 key
  // file), then `adjust` (may be empty), then gateway::finish_config. With a
  // `console_port`, the echo domain's console is there instead of echo(); with
  // Tls::on, a self-signed certificate (config().cert) serves wss:// too.
  explicit InProcessGateway(const std::function<void(gateway::Config&)>& adjust = {},
                            std::uint16_t console_port = 0, Tls tls = Tls::off);
  ~InProcessGateway();
  InProcessGateway(const InProcessGateway&) = delete;
  InProcessGateway& operator=(const InProcessGateway&) = delete;

  // A token for the echo domain, signed with `key_file` (by default the
  // gateway's key file as it is now).
  std::string token(const std::string& key_file = {}) const;
  std::unique_ptr<WsClient> client(const std::string& key_file = {}) const;
  // Over wss://, trusting only `ca_file` (a self-signed certificate).
  std::unique_ptr<WsClient> tls_client(const std::string& ca_file) const;
  // The HTTP status of a console request with a token signed with `key_file`:
  // 426 (upgrade required) when the token is accepted, 401 when it is not.
  int status_for(const std::string& key_file) const;

  // console_gw_sessions_active from /metrics.
  std::optional<double> active() const;
  bool none_active_within(std::chrono::milliseconds limit) const;
  // The value of `series` in /metrics once it is `expected` (the gateway counts
  // on its own threads, a moment after the event), or what it is after 2 s;
  // -1 when it is not there.
  double metric(const std::string& series, double expected) const;

  gateway::Server& server() { return *server_; }
  std::uint16_t port() const { return server_->port(); }
  // The configuration it started with, for a reload.
  const gateway::Config& config() const { return config_; }
  const Scratch& scratch() const { return scratch_; }
  const std::string& key_file() const { return secret_; }
  EchoConsole& echo() { return echo_; }
  // Waits until run() has returned (after stop()).
  void wait_stopped();

 private:
  Scratch scratch_;
  EchoConsole echo_;
  ClosedPort closed_;  // the "closed" domain's console, bound while the gateway lives
  std::string secret_;
  gateway::Config config_;
  std::optional<gateway::Server> server_;
  std::thread serving_;
};

}  // namespace cgw::test
