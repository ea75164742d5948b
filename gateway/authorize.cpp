#include "gateway/authorize.hpp"

#include "gateway/console_security.hpp"
#include "gateway/replay_store.hpp"
#include "gateway/request_rules.hpp"
#include "libvirt_adapter/domain_xml.hpp"
#include "libvirt_adapter/hypervisors.hpp"
#include "token/token.hpp"
#include "tunnel/connector.hpp"
#include "tunnel/host_route.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;

Decision refuse(Refusal code, std::string reason, std::string detail = {}) {
  Decision d;
  d.refused = Refused{code, std::move(reason), std::move(detail)};
  return d;
}

// Why a one-time token may not open (or show) the console, if it may not.
// `spice`: a SPICE console's further channels follow the first.
// Why a one-time token may not open the console.
struct OneTimeRefusal {
  Refusal code = Refusal::invalid_token;
  std::string reason;
  std::string detail;
};

// A one-time token is checked (and, by a console that opens, used up) with the
// replay store; nothing when the console may open, else why not.
net::awaitable<std::optional<OneTimeRefusal>> one_time_refusal(const Authority& a,
                                                               const ConsoleRequest& req,
                                                               const token::Claims& claims,
                                                               bool spice) {
  std::optional<OneTimeRefusal> refused;
  if (!claims.jti) co_return refused;
  refused.emplace();
  if (!a.replay) {
    refused->reason = "one-time tokens not enabled";
    co_return refused;
  }
  ReplayUse use;
  use.jti = *claims.jti;
  // Remembered past exp by more than the verifier's leeway.
  use.expires = *claims.expires + std::chrono::minutes(2);
  use.client = req.client;
  use.allow_grace = spice;
  use.uses_up = req.opens_console;
  const ReplayAnswer answer = co_await a.replay->check(use);
  switch (answer.verdict) {
    case ReplayAnswer::Verdict::admitted:
      refused.reset();
      break;
    case ReplayAnswer::Verdict::already_used:
      refused->reason = "token already used";
      break;
    case ReplayAnswer::Verdict::unavailable:
      // Fail closed: a token that can't be remembered as used is not used.
      refused->code = Refusal::replay_store_unavailable;
      refused->reason = "one-time token store unavailable";
      refused->detail = answer.detail;
      break;
  }
  co_return refused;
}

}  // namespace

const libvirt::Graphics* pick_console(const libvirt::DomainXml& domain,
                                      std::optional<ConsoleKind> wanted) {
  for (const libvirt::Graphics& g : domain.graphics) {
    if (!wanted || g.type == *wanted) return &g;
  }
  return nullptr;
}

tunnel::ConsoleListen to_listen(const libvirt::EffectiveListen& effective) {
  tunnel::ConsoleListen listen;
  switch (effective.kind) {
    case libvirt::EffectiveListen::Kind::tcp:
      listen.kind = tunnel::ConsoleListen::Kind::tcp;
      listen.address = effective.address;
      listen.port = static_cast<std::uint16_t>(effective.port);
      break;
    case libvirt::EffectiveListen::Kind::unix_socket:
      listen.kind = tunnel::ConsoleListen::Kind::unix_socket;
      listen.socket_path = effective.socket;
      break;
    default:
      listen.kind = tunnel::ConsoleListen::Kind::none;
      break;
  }
  return listen;
}

net::awaitable<Decision> authorize(const Authority& a, const ConsoleRequest& req) {
  if (!origin_allowed(a.origin_policy, req.origin, req.host, req.scheme)) {
    co_return refuse(Refusal::origin_not_allowed, "origin not allowed",
                     "origin " + std::string(req.origin));
  }
  const auto token_text = find_token(req.target, req.cookie);
  if (!token_text) co_return refuse(Refusal::invalid_token, "missing token");
  token::VerifyResult verdict = a.verifier.verify(*token_text, std::chrono::system_clock::now());
  if (!verdict) {
    const bool expired = verdict.rejection.failure == token::Failure::expired;
    co_return refuse(expired ? Refusal::token_expired : Refusal::invalid_token,
                     verdict.rejection.reason);
  }
  token::Claims& claims = *verdict.claims;
  // From here on refusals name the host and domain asked for (the log's).
  const auto refuse_for = [&claims](Refusal code, std::string reason, std::string detail = {}) {
    Decision d = refuse(code, std::move(reason), std::move(detail));
    d.host_id = claims.host_id;
    d.uuid = claims.uuid;
    return d;
  };

  const auto route = a.routes.find(claims.host_id);
  if (route == a.routes.end())
    co_return refuse_for(Refusal::unknown_host_or_domain, "unknown host");

  using Status = libvirt::DomainLookup::Status;
  libvirt::DomainLookup found = co_await a.hypervisors.lookup(claims.host_id, claims.uuid);
  switch (found.status) {
    case Status::ok:
      break;
    case Status::unknown_host:
      co_return refuse_for(Refusal::unknown_host_or_domain, "unknown host", found.reason);
    case Status::unknown_domain:
      co_return refuse_for(Refusal::unknown_host_or_domain, "unknown domain", found.reason);
    case Status::unreachable:
      co_return refuse_for(Refusal::hypervisor_unreachable, "hypervisor unreachable", found.reason);
    case Status::timed_out:
      co_return refuse_for(Refusal::hypervisor_unreachable, "hypervisor timed out", found.reason);
  }
  // From here on the domain is known: refusals carry its name (the page's title).
  const auto refuse_named = [&](Refusal code, std::string reason, std::string detail = {}) {
    Decision d = refuse_for(code, std::move(reason), std::move(detail));
    d.domain_name = found.domain.name;
    return d;
  };
  if (!found.running) co_return refuse_named(Refusal::no_console, "domain not running");

  if (claims.console == ConsoleKind::serial) {
    // A serial or text console is opened through libvirt itself (a stream on
    // the host's connection): no address, no path, no console security.
    const std::vector<std::string>& consoles = found.domain.text_consoles;
    if (consoles.empty()) co_return refuse_named(Refusal::no_console, "no serial console");
    if (claims.device &&
        std::find(consoles.begin(), consoles.end(), *claims.device) == consoles.end()) {
      co_return refuse_named(Refusal::no_console, "no serial console " + *claims.device);
    }
    if (claims.view_only) {
      co_return refuse_named(Refusal::no_console, "view-only is not available for serial consoles");
    }
    if (claims.jti) {  // (no coroutine frame for the usual token without one)
      if (auto refused = co_await one_time_refusal(a, req, claims, false)) {
        co_return refuse_named(refused->code, std::move(refused->reason),
                               std::move(refused->detail));
      }
    }
    Decision d;
    d.target.emplace();
    d.target->route = &route->second;
    d.target->console = ConsoleKind::serial;
    d.target->device = claims.device.value_or(std::string());
    d.target->force = claims.force;
    d.host_id = std::move(claims.host_id);
    d.uuid = std::move(claims.uuid);
    d.domain_name = std::move(found.domain.name);
    co_return d;
  }

  const libvirt::Graphics* graphics = pick_console(found.domain, claims.console);
  if (!graphics) {
    if (!claims.console) co_return refuse_named(Refusal::no_console, "domain has no console");
    co_return refuse_named(Refusal::no_console, *claims.console == ConsoleKind::vnc
                                                    ? "no VNC console"
                                                    : "no SPICE console");
  }
  const HostSecurity* security = nullptr;
  if (a.security) {
    if (auto found_security = a.security->find(claims.host_id);
        found_security != a.security->end()) {
      security = &found_security->second;
    }
  }
  const bool rfb = !security || security->rfb;
  if (claims.view_only && graphics->type != ConsoleKind::vnc) {
    co_return refuse_named(Refusal::no_console, "view-only is not available for SPICE consoles");
  }
  if (claims.view_only && !rfb) {
    co_return refuse_named(Refusal::no_console, "view-only needs the gateway's VNC security",
                           "host has vnc_security = \"passthrough\"");
  }
  libvirt::EffectiveListen effective = libvirt::effective_listen(*graphics);
  using Kind = libvirt::EffectiveListen::Kind;
  if (effective.kind == Kind::not_started) {
    co_return refuse_named(Refusal::no_console, "console not started");
  }
  const bool tls = effective.kind == Kind::tls_only;
  if (tls) {
    if (!security || !security->tls) {
      co_return refuse_named(Refusal::no_console, "SPICE console is TLS-only",
                             "set console_ca for its host to reach its TLS port");
    }
    effective.kind = Kind::tcp;  // to its TLS port
  }
  if (effective.kind == Kind::none) {
    co_return refuse_named(Refusal::no_console, "console not listening");
  }

  tunnel::ConsolePath path = tunnel::choose_path(route->second, to_listen(effective));
  if (path.kind == tunnel::ConsolePath::Kind::refused) {
    co_return refuse_named(Refusal::console_unreachable,
                           path.needs_ssh ? "console needs SSH tunnel" : "console unreachable",
                           path.refusal);
  }
  Decision d;
  d.target.emplace();
  d.target->route = &route->second;
  d.target->console = graphics->type;
  d.target->path = std::move(path);
  d.target->security = security;
  d.target->view_only = claims.view_only;
  d.target->record = claims.record || (security && security->record);
  d.target->tls = tls;
  if (graphics->type == ConsoleKind::vnc && security) {
    d.target->console_password =
        security->password_from_libvirt ? graphics->password : security->password;
  } else if (graphics->type == ConsoleKind::spice && security) {
    d.target->console_password =
        security->spice_password_from_libvirt ? graphics->password : security->spice_password;
  }
  // Last, once everything else holds: a one-time token is used up only by a
  // console that opens.
  if (claims.jti) {  // (no coroutine frame for the usual token without one)
    const bool spice = graphics->type == ConsoleKind::spice;
    if (auto refused = co_await one_time_refusal(a, req, claims, spice)) {
      co_return refuse_named(refused->code, std::move(refused->reason), std::move(refused->detail));
    }
  }
  d.host_id = std::move(claims.host_id);
  d.uuid = std::move(claims.uuid);
  d.domain_name = std::move(found.domain.name);
  co_return d;
}

Refused connect_refusal(const tunnel::ConnectResult& r) {
  using F = tunnel::ConnectResult::Failure;
  switch (r.failure) {
    case F::host_key_not_trusted:
      return {Refusal::hypervisor_unreachable, "host key not trusted", r.reason};
    case F::hypervisor_unreachable:
      return {Refusal::hypervisor_unreachable,
              r.reason.empty() ? "hypervisor unreachable" : r.reason, r.description};
    case F::needs_ssh:
      return {Refusal::console_unreachable, "console needs SSH tunnel", r.reason};
    case F::console_busy:
      return {Refusal::console_busy, "console in use by another client", r.reason};
    case F::no_console:
      return {Refusal::no_console, r.reason.empty() ? "no serial console" : r.reason,
              r.description};
    case F::console_unreachable:
    case F::none:
      break;
  }
  return {Refusal::console_unreachable, "console unreachable",
          r.reason + " (" + r.description + ")"};
}

}  // namespace cgw::gateway
