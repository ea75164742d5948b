#include "gateway/console_layers.hpp"

#include "console_tls/tls_client_stream.hpp"
#include "gateway/console_security.hpp"
#include "rfb/handshake.hpp"
#include "rfb/view_only_stream.hpp"
#include "spice/ticket.hpp"
#include "tunnel/host_route.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;

const HostSecurity& security_of(const ConsoleTarget& target) {
  static const HostSecurity defaults;
  return target.security ? *target.security : defaults;
}

// Aborts one stream when a handshake takes longer than its limit, unless
// disarmed first; `fired` says whether it did.
class Deadline {
 public:
  Deadline(net::any_io_executor executor, stream::ByteStream& watched,
           std::chrono::milliseconds limit)
      : timer_(executor, limit), state_(std::make_shared<State>()) {
    timer_.async_wait([state = state_, &watched](const boost::system::error_code& ec) {
      if (ec || state->disarmed) return;
      state->fired = true;
      watched.abort();
    });
  }
  ~Deadline() { disarm(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  void disarm() {
    state_->disarmed = true;
    timer_.cancel();
  }
  bool fired() const { return state_->fired; }

 private:
  struct State {
    bool disarmed = false;
    bool fired = false;
  };
  net::steady_timer timer_;
  std::shared_ptr<State> state_;
};

Refused refused_by(const rfb::ServerFailure& f, bool timed_out) {
  using Kind = rfb::ServerFailure::Kind;
  if (timed_out) {
    return {Refusal::console_unreachable, "console handshake timed out", f.detail};
  }
  switch (f.kind) {
    case Kind::untrusted:
      return {Refusal::hypervisor_unreachable, f.reason, f.detail};
    case Kind::refused:
      return {Refusal::console_security, f.reason, f.detail};
    case Kind::broken:
      break;
  }
  return {Refusal::console_unreachable, f.reason, f.detail};
}

// Built outside the coroutines: GCC 12 mis-destroys aggregates brace-initialised
// with temporaries inside a coroutine frame.
Refused tls_refusal(const console_tls::HandshakeResult& shaken, bool timed_out) {
  if (timed_out) return {Refusal::console_unreachable, "console TLS handshake timed out", {}};
  if (shaken.untrusted) return {Refusal::hypervisor_unreachable, shaken.reason, {}};
  return {Refusal::console_unreachable,
          shaken.reason.empty() ? "TLS handshake with the console failed" : shaken.reason,
          shaken.error.message()};
}

stream::EndReason browser_end(const rfb::BrowserFailure& f) { return {f.close_code, f.reason}; }

Refused ticket_refusal(const spice::TicketFailure& f, bool timed_out) {
  using Kind = spice::TicketFailure::Kind;
  if (timed_out) return {Refusal::console_unreachable, "console handshake timed out", f.detail};
  if (f.kind == Kind::refused) return {Refusal::console_security, f.reason, f.detail};
  return {Refusal::console_unreachable, f.reason, f.detail};
}

stream::EndReason ticket_browser_end(const spice::TicketFailure& f) { return {1002, f.reason}; }

// TLS from the first byte (a SPICE TLS port).
net::awaitable<LayeredConsole> tls_console(std::unique_ptr<stream::ByteStream> console,
                                           const ConsoleTarget& target,
                                           std::chrono::milliseconds limit) {
  LayeredConsole out;
  auto tls = std::make_unique<console_tls::TlsClientStream>(
      std::move(console), security_of(target).tls, console_tls_name(target));
  Deadline deadline(co_await net::this_coro::executor, *tls, limit);
  const console_tls::HandshakeResult shaken = co_await tls->handshake();
  deadline.disarm();
  if (shaken.error || shaken.untrusted) {
    tls->abort();
    out.refused = tls_refusal(shaken, deadline.fired());
    co_return out;
  }
  out.console = std::move(tls);
  out.security = "tls";
  co_return out;
}

// The RFB layer: the server's security first (so that a failure can still be
// told to the browser in RFB's words), then None to the browser.
net::awaitable<LayeredConsole> rfb_console(stream::ByteStream& browser,
                                           std::unique_ptr<stream::ByteStream> console,
                                           const ConsoleTarget& target,
                                           std::chrono::milliseconds limit) {
  LayeredConsole out;
  const HostSecurity& security = security_of(target);
  rfb::ServerCredentials credentials;
  credentials.password = target.console_password;
  if (security.tls) {
    credentials.tls = security.tls;
    credentials.tls_name = console_tls_name(target);
    credentials.client_certificate = security.client_certificate;
  }
  const auto executor = co_await net::this_coro::executor;
  stream::ByteStream& watched = *console;
  Deadline server_deadline(executor, watched, limit);
  rfb::SecuredConsole secured = co_await rfb::secure_server(std::move(console), credentials);
  server_deadline.disarm();
  if (secured.failure) {
    out.refused = refused_by(*secured.failure, server_deadline.fired());
    Deadline telling(executor, browser, limit);
    co_await rfb::tell_failure(browser, out.refused->reason);
    co_return out;
  }
  Deadline browser_deadline(executor, browser, limit);
  const auto browser_failed = co_await rfb::offer_none(browser);
  browser_deadline.disarm();
  if (browser_failed) {
    secured.console->abort();
    out.browser_ended = browser_end(*browser_failed);
    co_return out;
  }
  out.security = "rfb=" + secured.security;
  out.console = std::move(secured.console);
  if (target.view_only) {
    out.console = std::make_unique<rfb::ViewOnlyStream>(std::move(out.console));
    out.security += " view-only";
  }
  co_return out;
}

// SPICE: TLS to its TLS port when it has only that, and the ticket answered by
// the gateway when a password is configured for it (spice/ticket.hpp).
net::awaitable<LayeredConsole> spice_console(stream::ByteStream& browser,
                                             std::unique_ptr<stream::ByteStream> console,
                                             const ConsoleTarget& target,
                                             std::chrono::milliseconds limit) {
  LayeredConsole out;
  if (target.tls) {
    out = co_await tls_console(std::move(console), target, limit);
    if (!out.console) co_return out;
  } else {
    out.console = std::move(console);
  }
  if (!target.console_password) co_return out;
  const auto executor = co_await net::this_coro::executor;
  Deadline console_deadline(executor, *out.console, limit);
  Deadline browser_deadline(executor, browser, limit);
  const std::optional<spice::TicketFailure> failed =
      co_await spice::answer_ticket(browser, *out.console, *target.console_password);
  console_deadline.disarm();
  browser_deadline.disarm();
  if (failed) {
    out.console->abort();
    out.console.reset();
    if (failed->kind == spice::TicketFailure::Kind::browser && !browser_deadline.fired()) {
      out.browser_ended = ticket_browser_end(*failed);
    } else {
      out.refused = ticket_refusal(*failed, console_deadline.fired() || browser_deadline.fired());
    }
    co_return out;
  }
  out.security += out.security.empty() ? "ticket" : " ticket";
  co_return out;
}

}  // namespace

std::string console_tls_name(const ConsoleTarget& target) {
  const HostSecurity& security = security_of(target);
  if (!security.tls_name.empty()) return security.tls_name;
  if (target.route) {
    if (!target.route->address.empty()) return target.route->address;
    if (!target.route->hostname.empty()) return target.route->hostname;
  }
  return target.path.address;
}

net::awaitable<LayeredConsole> layer_console(stream::ByteStream& browser,
                                             std::unique_ptr<stream::ByteStream> console,
                                             const ConsoleTarget& target,
                                             std::chrono::milliseconds limit) {
  // Only SPICE consoles have a TLS port of their own; VNC's TLS is VeNCrypt,
  // inside the RFB layer.
  if (target.console == ConsoleKind::spice) {
    co_return co_await spice_console(browser, std::move(console), target, limit);
  }
  if (target.console == ConsoleKind::vnc && security_of(target).rfb) {
    co_return co_await rfb_console(browser, std::move(console), target, limit);
  }
  LayeredConsole out;
  out.console = std::move(console);
  co_return out;
}

}  // namespace cgw::gateway
