// Authorisation: from a browser's request to the console it may open, or the
// refusal it gets (close code, reason, and a detail for the log only).
//
// Token → host → domain (libvirt's live XML) → console device → path. This is
// the whole close-code table of the README, apart from the stream that writes
// the answer, so that it can be tested on libvirt's test:/// driver without a
// gateway, a socket or a QEMU (tests/gateway/authorize_test.cpp).
//
// authorize() runs on the caller's executor (a session's thread); the libvirt
// lookup inside it runs on the host's own thread and completes back there.
#pragma once

#include "common/console_kind.hpp"
#include "gateway/outcome.hpp"
#include "tunnel/console_path.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::token {
class Verifier;
}
namespace cgw::libvirt {
class Hypervisors;
struct DomainXml;
struct Graphics;
struct EffectiveListen;
}  // namespace cgw::libvirt
namespace cgw::tunnel {
struct HostRoute;
struct ConnectResult;
}  // namespace cgw::tunnel

namespace cgw::gateway {

struct OriginPolicy;
struct HostSecurity;
class ReplayStore;
using HostSecurities = std::map<std::string, HostSecurity, std::less<>>;

// The configured hosts by ID.
using HostRoutes = std::map<std::string, tunnel::HostRoute, std::less<>>;

// What authorisation reads. Owned by the Server; shared by every session.
struct Authority {
  const OriginPolicy& origin_policy;
  const token::Verifier& verifier;
  libvirt::Hypervisors& hypervisors;
  const HostRoutes& routes;
  // Each host's console security; a host without an entry gets the defaults
  // (the RFB layer on, no password, no TLS to the console).
  const HostSecurities* security = nullptr;
  // One-time tokens (a "jti" claim); null: such tokens are refused.
  ReplayStore* replay = nullptr;
};

// The parts of a request that decide: its target (after the base path) and
// three headers, and the scheme the browser used (http or https, as seen or as
// a trusted proxy says).
struct ConsoleRequest {
  std::string_view target;
  std::string_view origin;
  std::string_view host;
  std::string_view cookie;
  std::string_view scheme = "http";
  // The browser's address (for a SPICE console's further channels on a
  // one-time token), and whether this request opens the console and so uses
  // a one-time token up (the WebSocket), or only looks (the console page).
  std::string_view client{};
  bool opens_console = false;
};

// Where an authorised session goes (the domain is the Decision's uuid and
// domain_name).
struct ConsoleTarget {
  const tunnel::HostRoute* route = nullptr;
  ConsoleKind console = ConsoleKind::vnc;
  tunnel::ConsolePath path;
  const HostSecurity* security = nullptr;  // null: the defaults
  bool view_only = false;                  // the token's view_only claim
  bool record = false;                     // the token's record claim or the host's record = true
  bool tls = false;  // the console is reached over TLS from the start (SPICE tlsPort)
  // The VNC password or SPICE ticket the gateway answers with (libvirt's or
  // the host's file). A secret: never logged, never sent to the browser.
  std::optional<std::string> console_password;
  // Serial consoles: the device's alias (empty: the domain's first) and
  // whether to take it over from a client that holds it.
  std::string device;
  bool force = false;
};

struct Decision {
  std::optional<ConsoleTarget> target;
  Refused refused{Refusal::invalid_token, {}, {}};  // when there is no target
  // Known once the token was verified (for the log), refused or not.
  std::string host_id;
  std::string uuid;
  // Known once the domain was found (the console page's title), refused or not.
  std::string domain_name;
  explicit operator bool() const { return target.has_value(); }
};

boost::asio::awaitable<Decision> authorize(const Authority& authority,
                                           const ConsoleRequest& request);

// The domain's console of the kind asked for, or its first when none is asked;
// null when there is none.
const libvirt::Graphics* pick_console(const libvirt::DomainXml& domain,
                                      std::optional<ConsoleKind> wanted);

// The listen address of a <graphics> device as path selection sees it.
tunnel::ConsoleListen to_listen(const libvirt::EffectiveListen& effective);

// Why opening an authorised console failed, in the browser's words.
Refused connect_refusal(const tunnel::ConnectResult& result);

}  // namespace cgw::gateway
