#include "gateway/session.hpp"

#include "common/log.hpp"
#include "gateway/console_page.hpp"
#include "gateway/handshake.hpp"
#include "gateway/outcome.hpp"
#include "gateway/tls_socket.hpp"
#include "gateway/ws_stream.hpp"
#include "libvirt_adapter/domain_xml.hpp"
#include "stream/pump.hpp"
#include "tunnel/console_path.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <charconv>
#include <chrono>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Request = http::request<http::empty_body>;
using Clock = std::chrono::steady_clock;

constexpr log::Logger logger{"gateway"};
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto detect_timeout = std::chrono::seconds(10);
constexpr auto http_timeout = std::chrono::seconds(30);
constexpr std::size_t max_header_bytes = 16 * 1024;

// The identity of one session in the log: never the token.
struct SessionLog {
  std::uint64_t id = 0;
  net::ip::address peer;
  std::string peer_text;        // address:port of the TCP peer
  std::string client;           // the browser: the peer, or what a trusted proxy says
  std::string scheme = "http";  // how the browser reached us: http(s), as seen or forwarded
  bool secure = false;          // TLS on our own socket
  std::string host_id = "-";
  std::string uuid = "-";
  Clock::time_point started = Clock::now();

  std::string prefix() const {
    char number[24];
    const auto end = std::to_chars(number, number + sizeof number, id).ptr;
    std::string out;
    out.reserve(80 + client.size() + peer_text.size() + host_id.size() + uuid.size());
    out.append("session=").append(number, end).append(" client=").append(client);
    if (client != peer_text) out.append(" proxy=").append(peer_text);
    out.append(" host=").append(host_id).append(" uuid=").append(uuid);
    return out;
  }
};

// Where an authorised session goes.
struct Target {
  const tunnel::HostRoute* route = nullptr;
  std::string domain_name;
  libvirt::GraphicsType console = libvirt::GraphicsType::vnc;
  tunnel::ConsolePath path;
};

struct Decision {
  std::optional<Target> target;
  Refused refused{Refusal::invalid_token, {}, {}};
  std::string domain_name;  // known once the domain was found, refused or not
};

Decision refuse(Refusal code, std::string reason, std::string detail = {}) {
  Decision d;
  d.refused = Refused{code, std::move(reason), std::move(detail)};
  return d;
}

const libvirt::Graphics* pick_console(const libvirt::DomainXml& domain,
                                      std::optional<token::ConsoleKind> wanted) {
  for (const libvirt::Graphics& g : domain.graphics) {
    if (!wanted) return &g;
    const bool vnc = g.type == libvirt::GraphicsType::vnc;
    if (vnc == (*wanted == token::ConsoleKind::vnc)) return &g;
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

// Token → host → domain → console → path. Each refusal has its code and words.
net::awaitable<Decision> authorize(Services& s, const Request& req, std::string_view target,
                                   SessionLog& log) {
  if (!origin_allowed(s.origin_policy, req[http::field::origin], req[http::field::host],
                      log.scheme)) {
    co_return refuse(Refusal::origin_not_allowed, "origin not allowed",
                     "origin " + std::string(req[http::field::origin]));
  }
  const auto token_text = find_token(target, req[http::field::cookie]);
  if (!token_text) co_return refuse(Refusal::invalid_token, "missing token");
  const token::VerifyResult verdict =
      s.verifier.verify(*token_text, std::chrono::system_clock::now());
  if (!verdict) {
    const bool expired = verdict.rejection.failure == token::Failure::expired;
    co_return refuse(expired ? Refusal::token_expired : Refusal::invalid_token,
                     verdict.rejection.reason);
  }
  const token::Claims& claims = *verdict.claims;
  log.host_id = claims.host_id;
  log.uuid = claims.uuid;

  const auto route = s.routes.find(claims.host_id);
  if (route == s.routes.end()) co_return refuse(Refusal::unknown_host_or_domain, "unknown host");

  using Status = libvirt::DomainLookup::Status;
  const libvirt::DomainLookup found = co_await s.hypervisors.lookup(claims.host_id, claims.uuid);
  switch (found.status) {
    case Status::ok:
      break;
    case Status::unknown_host:
      co_return refuse(Refusal::unknown_host_or_domain, "unknown host", found.reason);
    case Status::unknown_domain:
      co_return refuse(Refusal::unknown_host_or_domain, "unknown domain", found.reason);
    case Status::unreachable:
      co_return refuse(Refusal::hypervisor_unreachable, "hypervisor unreachable", found.reason);
    case Status::timed_out:
      co_return refuse(Refusal::hypervisor_unreachable, "hypervisor timed out", found.reason);
  }
  // From here on the domain is known: refusals carry its name (the page's title).
  const auto refuse_named = [&found](Refusal code, std::string reason, std::string detail = {}) {
    Decision d = refuse(code, std::move(reason), std::move(detail));
    d.domain_name = found.domain.name;
    return d;
  };
  if (!found.running) co_return refuse_named(Refusal::no_console, "domain not running");

  const libvirt::Graphics* graphics = pick_console(found.domain, claims.console);
  if (!graphics) {
    if (!claims.console) co_return refuse_named(Refusal::no_console, "domain has no console");
    co_return refuse_named(Refusal::no_console, *claims.console == token::ConsoleKind::vnc
                                                    ? "no VNC console"
                                                    : "no SPICE console");
  }
  const libvirt::EffectiveListen effective = libvirt::effective_listen(*graphics);
  using Kind = libvirt::EffectiveListen::Kind;
  if (effective.kind == Kind::not_started) {
    co_return refuse_named(Refusal::no_console, "console not started");
  }
  if (effective.kind == Kind::tls_only) {
    co_return refuse_named(Refusal::no_console, "SPICE console is TLS-only");
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
  d.target = Target{&route->second, found.domain.name, graphics->type, std::move(path)};
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
    case F::console_unreachable:
    case F::none:
      break;
  }
  return {Refusal::console_unreachable, "console unreachable",
          r.reason + " (" + r.description + ")"};
}

void log_refusal(const SessionLog& log, const Refused& r) {
  logger.info(log.prefix(), " outcome=refused code=", close_code(r.code), " reason=\"", r.reason,
              "\"", r.detail.empty() ? "" : " detail=\"", r.detail, r.detail.empty() ? "" : "\"");
}

// The WebSocket close reason is limited to 123 bytes.
std::string clip_reason(std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  return reason;
}

http::response<http::string_body> text_response(const Request& req, http::status status,
                                                std::string body) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "console-gw");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body) + "\n";
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

void end_stream(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void end_stream(TlsSocket& stream) {
  // A close_notify and a FIN, without waiting: the peer may be gone.
  stream.shutdown_send();
}

bool is_websocket_path(std::string_view path) {
  if (path == "/" || path == "/websockify") return true;
  // "/<token>": one non-empty segment
  return path.size() > 1 && path.find('/', 1) == std::string_view::npos;
}

// An upgraded session's console, or why there is none.
struct Connected {
  std::unique_ptr<stream::ByteStream> console;
  std::string description;  // how it was reached, for the log
  std::string domain_name;
  libvirt::GraphicsType type = libvirt::GraphicsType::vnc;
  Refused refused{Refusal::invalid_token, {}, {}};
};

net::awaitable<Connected> connect_console(Services& s, const Request& req, std::string_view target,
                                          SessionLog& log) {
  Connected c;
  Decision decision = co_await authorize(s, req, target, log);
  if (!decision.target) {
    c.refused = std::move(decision.refused);
    log_refusal(log, c.refused);
    co_return c;
  }
  tunnel::ConnectResult connected =
      co_await s.connector.connect(*decision.target->route, decision.target->path);
  if (!connected) {
    c.refused = connect_refusal(connected);
    log_refusal(log, c.refused);
    co_return c;
  }
  c.console = std::move(connected.stream);
  c.description = std::move(connected.description);
  c.domain_name = std::move(decision.target->domain_name);
  c.type = decision.target->console;
  co_return c;
}

stream::EndReason end_reason(const Refused& r) {
  return {close_code(r.code), clip_reason(r.reason)};
}

// Pumps a connected console until either side ends, as one of the open consoles
// that stopping the gateway closes with 1001.
template <class Client>
net::awaitable<void> pump_console(Client& client, Connected& c, Services& s,
                                  const SessionLog& log) {
  logger.info(log.prefix(), " outcome=connected domain=\"", c.domain_name,
              "\" console=", libvirt::graphics_type_name(c.type), " via=\"", c.description, "\"");
  // The ender may be called just as the session ends; what it posts runs on this
  // session's executor, and `alive` (cleared there) tells it whether we are still here.
  auto alive = std::make_shared<bool>(true);
  struct Leaving {
    std::shared_ptr<bool> alive;
    ~Leaving() { *alive = false; }
  } leaving{alive};
  stream::ByteStream* console_stream = c.console.get();
  const auto executor = co_await net::this_coro::executor;
  const SessionRegistry::Entry registered =
      s.sessions->add(log.id, [&client, console_stream, alive, executor] {
        net::post(executor, [&client, console_stream, alive] {
          if (!*alive) return;
          client.override_close_reason({1001, "gateway restarting"});
          console_stream->abort();
        });
      });
  const stream::PumpOptions pump_options;
  const stream::PumpResult result = co_await stream::pump(client, *c.console, pump_options);
  const auto elapsed = std::chrono::duration<double>(Clock::now() - log.started).count();
  logger.info(log.prefix(), " outcome=ended by=",
              result.ended_by == stream::PumpResult::Ender::client ? "client" : "console",
              " cause=\"", result.error.message(), "\" to_console=", result.client_to_console,
              " to_client=", result.console_to_client, " duration=", elapsed, "s");
}

// A session after its 101: our own framing (WsStream over a plain socket,
// WssStream over TLS). It runs as a coroutine of its own, so that the HTTP
// phase's frames and buffers are gone while the console is open.
template <class Ws>
struct UpgradedConsole {
  template <class Transport>
  UpgradedConsole(Transport transport, Request r, std::string t, SessionLog l)
      : ws(std::move(transport)),
        req(std::make_unique<Request>(std::move(r))),
        target(std::move(t)),
        log(std::move(l)) {}
  Ws ws;
  std::unique_ptr<Request> req;  // until the console is connected
  std::string target;
  SessionLog log;
};

template <class Ws>
net::awaitable<void> run_console(std::unique_ptr<UpgradedConsole<Ws>> session, Services& s) {
  Connected c = co_await connect_console(s, *session->req, session->target, session->log);
  // The request is not needed any more; an idle console should hold little.
  session->req.reset();
  std::string().swap(session->target);
  if (!c.console) {
    const stream::EndReason why = end_reason(c.refused);
    co_await session->ws.close_and_drain(why);
    co_return;
  }
  session->ws.keep_alive(s.config.ping_interval);
  co_await pump_console(session->ws, c, s, session->log);
}

// What the WebSocket frames go over once the HTTP phase is done.
PlainSocket websocket_transport(beast::tcp_stream& stream) {
  return PlainSocket(stream.release_socket());
}
TlsSocket websocket_transport(TlsSocket& stream) { return std::move(stream); }

// Answers the upgrade and hands the connection to run_console.
template <class Stream>
net::awaitable<void> serve_websocket(Stream& stream, Request req, std::string target, Services& s,
                                     SessionLog& log) {
  if (auto refused = handshake_refusal(req)) {
    logger.debug(log.prefix(), " websocket handshake refused: ", refused->body());
    co_await http::async_write(stream, *refused, use_tuple);
    end_stream(stream);
    co_return;
  }
  auto res = switching_protocols(req);
  auto [write_error, n] = co_await http::async_write(stream, res, use_tuple);
  if (write_error) co_return;
  stream.expires_never();
  auto transport = websocket_transport(stream);
  auto session = std::make_unique<UpgradedConsole<BasicWsStream<decltype(transport)>>>(
      std::move(transport), std::move(req), std::move(target), std::move(log));
  net::co_spawn(co_await net::this_coro::executor, run_console(std::move(session), s),
                report_session_end);
}

// Writes a response; returns whether the connection may serve another request.
template <class Stream, class Response>
net::awaitable<bool> send(Stream& stream, const Request& req, Response& res) {
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  co_return !ec && req.keep_alive() && res.keep_alive();
}

// A file below one of the static roots, or nullopt when there is none to serve.
template <class Stream>
net::awaitable<std::optional<bool>> send_file(Stream& stream, const Request& req,
                                              const StaticFiles& root, std::string_view path) {
  const auto file = root.resolve(path);
  if (!file) co_return std::nullopt;
  http::file_body::value_type body;
  beast::error_code open_error;
  body.open(file->c_str(), beast::file_mode::scan, open_error);
  if (open_error) co_return std::nullopt;
  const auto size = body.size();
  http::response_header<> header;
  header.result(http::status::ok);
  header.version(req.version());
  header.set(http::field::server, "console-gw");
  header.set(http::field::content_type, StaticFiles::content_type(*file));
  header.set("X-Content-Type-Options", "nosniff");
  if (req.method() == http::verb::head) {
    http::response<http::empty_body> res{std::move(header)};
    res.content_length(size);
    res.keep_alive(req.keep_alive());
    co_return co_await send(stream, req, res);
  }
  http::response<http::file_body> res{std::move(header), std::move(body)};
  res.content_length(size);
  res.keep_alive(req.keep_alive());
  co_return co_await send(stream, req, res);
}

// <base>/console: the popup page, with the domain's name and console type, or the
// refusal in words (under the matching HTTP status).
template <class Stream>
net::awaitable<bool> send_console_page(Stream& stream, const Request& req, std::string_view target,
                                       Services& s, SessionLog& log) {
  Decision decision = co_await authorize(s, req, target, log);
  ConsolePage page;
  page.base_path = s.config.base_path;
  http::status status = http::status::ok;
  if (decision.target) {
    page.console = std::string(libvirt::graphics_type_name(decision.target->console));
    page.name = decision.target->domain_name;
    logger.info(log.prefix(), " outcome=page console=", page.console);
  } else {
    log_refusal(log, decision.refused);
    page.name = decision.domain_name;
    page.refused = ConsolePage::Refusal{close_code(decision.refused.code), decision.refused.reason};
    status = static_cast<http::status>(http_status(decision.refused.code));
  }
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "console-gw");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Content-Type-Options", "nosniff");
  res.set(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
      "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'");
  res.keep_alive(req.keep_alive());
  res.body() = render(page);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  co_return co_await send(stream, req, res);
}

// Strips the base path from a request target; nullopt when it is outside it.
std::optional<std::string> relative_target(std::string_view base, std::string_view target) {
  if (base.empty()) return std::string(target);
  if (!target.starts_with(base)) return std::nullopt;
  const std::string_view rest = target.substr(base.size());
  if (rest.empty()) return std::string("/");
  if (rest.front() == '?') return "/" + std::string(rest);
  if (rest.front() != '/') return std::nullopt;
  return std::string(rest);
}

// A plain HTTP request. Returns whether the connection may serve another.
template <class Stream>
net::awaitable<bool> answer_http(Stream& stream, const Request& req, const std::string& target,
                                 Services& s, SessionLog& log) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text_response(req, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET, HEAD");
    res.keep_alive(false);
    co_return co_await send(stream, req, res);
  }
  const auto path = decoded_path(target);
  if (!path) {
    auto res = text_response(req, http::status::bad_request, "bad request target");
    res.keep_alive(false);
    co_return co_await send(stream, req, res);
  }
  if (*path == "/healthz") {
    auto res = text_response(req, http::status::ok, "ok");
    co_return co_await send(stream, req, res);
  }
  if (*path == "/console") co_return co_await send_console_page(stream, req, target, s, log);
  if (*path == "/favicon.ico") {
    http::response<http::empty_body> res{http::status::no_content, req.version()};
    res.set(http::field::server, "console-gw");
    res.keep_alive(req.keep_alive());
    co_return co_await send(stream, req, res);
  }

  const bool asks_console =
      *path == "/websockify" || (*path == "/" && find_token(target, {}).has_value());
  if (asks_console) {
    // The same checks as a WebSocket, answered as an HTTP status with the same words.
    Decision decision = co_await authorize(s, req, target, log);
    if (!decision.target) {
      log_refusal(log, decision.refused);
      auto res = text_response(req, static_cast<http::status>(http_status(decision.refused.code)),
                               decision.refused.reason);
      co_return co_await send(stream, req, res);
    }
    auto res = text_response(req, http::status::upgrade_required, "WebSocket upgrade required");
    res.set(http::field::upgrade, "websocket");
    co_return co_await send(stream, req, res);
  }

  // The clients, from Debian's packages, then the operator's own directory.
  struct Mount {
    std::string_view prefix;
    const std::optional<StaticFiles>& root;
  };
  for (const Mount& mount :
       {Mount{"/novnc/", s.novnc}, Mount{"/spice/", s.spice}, Mount{"/", s.web}}) {
    if (!mount.root || !path->starts_with(mount.prefix)) continue;
    const std::string_view rest = std::string_view(*path).substr(mount.prefix.size() - 1);
    if (auto kept = co_await send_file(stream, req, *mount.root, rest)) co_return *kept;
    if (mount.prefix != "/") break;
  }
  auto res = text_response(req, http::status::not_found, "not found");
  co_return co_await send(stream, req, res);
}

// Who the browser is: the TCP peer, unless the peer is a trusted proxy that says.
void apply_forwarding(const Services& s, const Request& req, SessionLog& log) {
  log.client = log.peer_text;
  log.scheme = log.secure ? "https" : "http";
  if (!s.proxies.trusts(log.peer)) return;
  const auto joined = [&req](std::string_view name) {
    std::string all;
    for (auto [it, end] = req.equal_range(name); it != end; ++it) {
      if (!all.empty()) all += ',';
      all += it->value();
    }
    return all;
  };
  const ForwardedFor said =
      TrustedProxies::read(s.config.forwarded_headers, joined("Forwarded"),
                           joined("X-Forwarded-For"), joined("X-Forwarded-Proto"));
  if (!said.client.empty()) log.client = said.client;
  if (!said.scheme.empty()) log.scheme = said.scheme;
}

template <class Stream>
net::awaitable<void> serve(Stream stream, beast::flat_buffer buffer, Services& s, SessionLog log) {
  for (;;) {
    beast::get_lowest_layer(stream).expires_after(http_timeout);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(max_header_bytes);
    auto [read_error, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_error) {
      if (read_error != http::error::end_of_stream && read_error != net::error::eof &&
          read_error != beast::error::timeout && read_error != ssl::error::stream_truncated) {
        logger.debug(log.prefix(), " bad request: ", read_error.message());
        auto res = text_response(Request{}, http::status::bad_request, "bad request");
        res.keep_alive(false);
        co_await http::async_write(stream, res, use_tuple);
      }
      break;
    }
    Request req = parser.release();
    apply_forwarding(s, req, log);
    const auto target = relative_target(s.config.base_path, req.target());
    if (!target) {
      auto res = text_response(req, http::status::not_found, "not found");
      if (!co_await send(stream, req, res)) break;
      continue;
    }
    if (beast::websocket::is_upgrade(req)) {
      const auto path = decoded_path(*target);
      if (path && is_websocket_path(*path)) {
        // A client sends no frames before the upgrade is answered: nothing in
        // the buffer is lost, and the session keeps no HTTP buffer.
        buffer.clear();
        buffer.shrink_to_fit();
        // The connection moves to the console's coroutine: touch it no more.
        co_await serve_websocket(stream, std::move(req), std::move(*target), s, log);
        co_return;
      }
      auto res = text_response(req, http::status::not_found, "not found");
      res.keep_alive(false);
      co_await http::async_write(stream, res, use_tuple);
      break;
    }
    if (!co_await answer_http(stream, req, *target, s, log)) break;
  }
  end_stream(stream);
}

}  // namespace

void report_session_end(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    logger.warn("session ended by an unexpected error: ", e.what());
  }
}

net::awaitable<void> run_session(tcp::socket socket, Services& s, std::uint64_t session_id) {
  SessionLog log;
  log.id = session_id;
  beast::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (!ec) {
    log.peer = peer.address();
    log.peer_text = (peer.address().is_v6() ? "[" + peer.address().to_string() + "]"
                                            : peer.address().to_string()) +
                    ":" + std::to_string(peer.port());
  } else {
    log.peer_text = "?";
  }
  log.client = log.peer_text;
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // One port for both: a TLS ClientHello starts with 0x16; anything else is plain HTTP.
  stream.expires_after(detect_timeout);
  auto [detect_error, is_tls] = co_await beast::async_detect_ssl(stream, buffer, use_tuple);
  if (detect_error) co_return;

  if (is_tls) {
    if (!s.tls) {
      logger.info(log.prefix(), " outcome=refused reason=\"TLS without a certificate configured\"");
      co_return;
    }
    // The bytes read while detecting are the start of the handshake: hand them over.
    const auto initial = buffer.cdata();
    TlsSocket tls(stream.release_socket(), s.tls->native_handle(),
                  std::string_view(static_cast<const char*>(initial.data()), initial.size()));
    buffer.clear();
    tls.expires_after(detect_timeout);
    if (const beast::error_code handshake_error = co_await tls.handshake()) {
      logger.debug(log.prefix(), " TLS handshake failed: ", handshake_error.message());
      co_return;
    }
    log.secure = true;
    co_await serve(std::move(tls), std::move(buffer), s, std::move(log));
    co_return;
  }

  if (s.config.ssl_only) {
    logger.info(log.prefix(), " outcome=refused reason=\"plain connection with ssl_only\"");
    Request req;
    req.version(11);
    auto res = text_response(req, http::status::forbidden, "TLS required (wss:// or https://)");
    res.keep_alive(false);
    co_await http::async_write(stream, res, use_tuple);
    end_stream(stream);
    co_return;
  }
  co_await serve(std::move(stream), std::move(buffer), s, std::move(log));
}

}  // namespace cgw::gateway
