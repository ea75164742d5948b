// Services: what every session of the gateway shares. Owned by the Server and
// read-only while it serves; the parts synchronise themselves where they change
// (the libvirt connections, the SSH sessions, the registry, the listeners, the
// credentials and the host set that a reload replaces).
#pragma once

#include "common/console_kind.hpp"
#include "gateway/authorize.hpp"
#include "gateway/credentials.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/host_set.hpp"
#include "gateway/static_files.hpp"
#include "gateway/trusted_proxies.hpp"
#include "stream/pump.hpp"

#include <optional>

namespace cgw::tunnel {
class ConsoleOpener;
}

namespace cgw::gateway {

class Admission;
class Recorder;
struct Config;
class SessionEvents;
class SessionRegistry;

// Which opener opens which kind of console.
struct ConsoleOpeners {
  const tunnel::ConsoleOpener& sockets;  // VNC and SPICE: TCP, UNIX, SSH (tunnel::Connector)
  // Consoles as libvirt streams (serial: libvirt_console::StreamOpener).
  const tunnel::ConsoleOpener* streams{};

  // Null when no opener serves that kind.
  const tunnel::ConsoleOpener* for_kind(ConsoleKind kind) const {
    return is_graphics(kind) ? &sockets : streams;
  }
};

struct Services {
  const Config& config;
  // The token verifier and TLS context for new sessions; a reload replaces them.
  const CurrentCredentials& credentials;
  // The hosts for new sessions (libvirt, routes, console security); a reload
  // replaces them.
  const CurrentHostSet& hosts;
  const OriginPolicy& origin_policy;
  ReplayStore* replay;  // one-time tokens (in this process or shared)
  ConsoleOpeners openers;
  SessionEvents& events;
  SessionRegistry& sessions;  // the open consoles, for a graceful stop
  TrustedProxies proxies;
  std::optional<StaticFiles> web;    // --web DIR at <base>/
  std::optional<StaticFiles> novnc;  // noVNC at <base>/novnc/
  std::optional<StaticFiles> spice;  // spice-html5 at <base>/spice/
  std::optional<StaticFiles> xterm;  // xterm.js at <base>/xterm/ (serial consoles)
  MetricsEndpoint metrics;           // <base>/metrics
  Admission* admission = nullptr;    // [limits]: set by the Server, never null while serving
  Recorder* recorder = nullptr;      // [recording]: null, nothing is recorded
  // Every console's pump: the write timeout and the session limits, with their
  // sentences made once (session_pump_options()), not per session.
  stream::PumpOptions pump_options{};

  // What a session authorises with: the credentials and hosts it took when it began.
  Authority authority_for(const Credentials& session, const HostSet& session_hosts) const {
    return {origin_policy,        session.verifier,        *session_hosts.hypervisors,
            session_hosts.routes, &session_hosts.security, replay};
  }
};

}  // namespace cgw::gateway
