// One client connection, from the first byte to the last: detect TLS, read the
// HTTP request, then either answer it (health, static files, a refusal) or
// upgrade to a WebSocket, authorise, find and connect the console, and pump.
// Runs as coroutines on one network thread's io_context.
#pragma once

#include "gateway/config.hpp"
#include "gateway/request_rules.hpp"
#include "gateway/session_registry.hpp"
#include "gateway/static_files.hpp"
#include "gateway/trusted_proxies.hpp"
#include "libvirt_adapter/hypervisors.hpp"
#include "token/token.hpp"
#include "tunnel/connector.hpp"
#include "tunnel/host_route.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <string>

namespace cgw::gateway {

// What every session shares; owned by the Server, read-only while serving.
struct Services {
  const Config& config;
  boost::asio::ssl::context* tls;  // null without cert
  const token::Verifier& verifier;
  libvirt::Hypervisors& hypervisors;
  const std::map<std::string, tunnel::HostRoute, std::less<>>& routes;
  const tunnel::Connector& connector;
  OriginPolicy origin_policy;
  TrustedProxies proxies;
  std::optional<StaticFiles> web;       // --web DIR at <base>/
  std::optional<StaticFiles> novnc;     // noVNC at <base>/novnc/
  std::optional<StaticFiles> spice;     // spice-html5 at <base>/spice/
  SessionRegistry* sessions = nullptr;  // the open consoles, for a graceful stop
};

// The completion of a session's coroutine: logs an exception that escaped it.
void report_session_end(std::exception_ptr error);

boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, Services& services,
                                         std::uint64_t session_id);

}  // namespace cgw::gateway
