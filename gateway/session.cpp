#include "gateway/session.hpp"

#include "common/log.hpp"
#include "gateway/admission.hpp"
#include "gateway/authorize.hpp"
#include "gateway/config.hpp"
#include "gateway/console_layers.hpp"
#include "gateway/outcome.hpp"
#include "gateway/recording.hpp"
#include "gateway/request_rules.hpp"
#include "gateway/responses.hpp"
#include "gateway/routing.hpp"
#include "gateway/services.hpp"
#include "gateway/session_events.hpp"
#include "gateway/session_registry.hpp"
#include "libvirt_adapter/hypervisors.hpp"
#include "stream/pump.hpp"
#include "tunnel/console_opener.hpp"
#include "websocket/handshake.hpp"
#include "websocket/tls_socket.hpp"
#include "websocket/ws_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <openssl/crypto.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr log::Logger logger{"gateway"};
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// One connection's identity and how the browser reached us.
struct SessionState {
  SessionInfo info;
  net::ip::address peer;
  // The browser's address without a port, for the per-client limits: the
  // peer's, or what a trusted proxy says.
  std::string client_address;
  // By when the TLS handshake and the next HTTP request must have arrived.
  Clock::time_point handshake_deadline;
  // The open console's place among limits.max_sessions; moves with the state
  // into the console's coroutine and is given back when that ends.
  Admission::Ticket console_ticket;
  std::string scheme = "http";  // how the browser reached us: http(s), as seen or forwarded
  bool secure = false;          // TLS on our own socket
  // The token verifier and TLS context current when the session began: a
  // reload does not change them under it.
  std::shared_ptr<const Credentials> credentials;
  // The hosts current when the session began: a console goes on when a reload
  // removes its host (the ConsoleTarget points into this set).
  std::shared_ptr<const HostSet> hosts;
};

std::string prefix(const SessionState& state) { return SessionLogWriter::prefix(state.info); }

// What authorisation reads of a request. The views point into `req` and `state`.
// `opens_console`: the WebSocket that opens the console (and uses up a
// one-time token), rather than the page or the status check that only look.
// The client is its address without the port (the log's has it): a SPICE
// page's channels come from as many ports, and its one-time token's grace rule
// asks for the same client.
ConsoleRequest console_request(const Request& req, std::string_view target,
                               const SessionState& state, bool opens_console = false) {
  return {target,       req[http::field::origin], req[http::field::host], req[http::field::cookie],
          state.scheme, state.client_address,     opens_console};
}

// How a console path is named in the log and the metrics.
std::string_view path_name(tunnel::ConsolePath::Kind kind) {
  using Kind = tunnel::ConsolePath::Kind;
  switch (kind) {
    case Kind::direct_tcp:
      return "direct";
    case Kind::local_unix:
      return "unix";
    case Kind::ssh_tcp:
    case Kind::ssh_unix:
      return "ssh";
    case Kind::refused:
      break;
  }
  return "-";
}

// The host, domain and path a decision named, for the log.
void note_names(SessionState& state, const Decision& decision) {
  if (decision.host_id.empty()) return;
  state.info.host_id = decision.host_id;
  state.info.uuid = decision.uuid;
  if (!decision.target) return;
  state.info.path = decision.target->console == ConsoleKind::serial
                        ? "libvirt"
                        : path_name(decision.target->path.kind);
}

// The WebSocket close reason is limited to 123 bytes.
std::string clip_reason(std::string reason) {
  if (reason.size() > 123) reason.resize(123);
  return reason;
}

void end_stream(beast::tcp_stream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

void end_stream(websocket::TlsSocket& stream) {
  // A close_notify and a FIN, without waiting: the peer may be gone.
  stream.shutdown_send();
}

stream::EndReason end_reason(const Refused& r) {
  return {close_code(r.code), clip_reason(r.reason)};
}

// The time left of the handshake, on the connection's timer.
template <class Stream>
void expire_at(Stream& stream, Clock::time_point deadline) {
  beast::get_lowest_layer(stream).expires_after(
      std::max(Clock::duration::zero(), deadline - Clock::now()));
}

// A limit's refusals are logged one line a second at most (with how many
// there were), so that a flood of them does not flood the log as well.
class RefusalLog {
 public:
  constexpr RefusalLog(Limit limit, std::string_view what) : limit_(limit), what_(what) {}
  // Counts the refusal (console_gw_limit_refusals_total) and logs it.
  void note(Services& s, const SessionState& state, std::string_view detail) {
    s.admission->refused(limit_);
    const auto now = Clock::now().time_since_epoch().count();
    const auto count = refused_.fetch_add(1, std::memory_order_relaxed) + 1;
    auto last = last_.load(std::memory_order_relaxed);
    if (now - last < std::chrono::nanoseconds(std::chrono::seconds(1)).count() && last != 0) return;
    if (!last_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
    refused_.fetch_sub(count, std::memory_order_relaxed);
    logger.warn(prefix(state), " refused: ", what_, " (", detail, ")",
                count > 1 ? "; " + std::to_string(count) + " refused since the last such line"
                          : std::string());
  }

 private:
  Limit limit_;
  std::string_view what_;
  std::atomic<Clock::rep> last_{0};
  std::atomic<std::uint64_t> refused_{0};
};

RefusalLog handshake_total_log{Limit::max_handshakes, "limits.max_handshakes reached"};
RefusalLog handshake_peer_log{Limit::max_handshakes_per_peer,
                              "limits.max_handshakes_per_peer reached"};
RefusalLog rate_log{Limit::handshake_rate, "limits.handshake_rate exceeded: 429"};
RefusalLog sessions_total_log{Limit::max_sessions, "limits.max_sessions reached: 503"};
RefusalLog sessions_client_log{Limit::max_sessions_per_client,
                               "limits.max_sessions_per_client reached: 429"};

// Too many console requests from this client, or too many consoles open: the
// answer to the upgrade or the request, instead of it.
TextResponse limit_response(const Request& req, http::status status, std::string body) {
  auto res = text_response(req, status, std::move(body));
  res.set(http::field::retry_after, "1");
  res.keep_alive(false);
  return res;
}

// A console request (it verifies a token and asks libvirt) within the
// client's rate, or the 429 that answers it.
std::optional<TextResponse> check_rate(Services& s, const Request& req, const SessionState& state) {
  if (s.admission->allow_request(state.client_address)) return std::nullopt;
  rate_log.note(s, state, "client " + state.client_address);
  return limit_response(req, http::status::too_many_requests, "too many console requests");
}

// A place among the open consoles for this client (kept in state), or the
// 503 / 429 that refuses the upgrade.
std::optional<TextResponse> admit_console(Services& s, const Request& req, SessionState& state) {
  Admission::Verdict why{};
  state.console_ticket = s.admission->open_console(state.client_address, why);
  if (state.console_ticket) return std::nullopt;
  const auto& limits = s.config.limits;
  if (why == Admission::Verdict::total_full) {
    sessions_total_log.note(s, state, std::to_string(limits.max_sessions) + " consoles open");
    return limit_response(req, http::status::service_unavailable, "too many consoles open");
  }
  sessions_client_log.note(s, state,
                           std::to_string(limits.max_sessions_per_client) +
                               " consoles open for client " + state.client_address);
  return limit_response(req, http::status::too_many_requests,
                        "too many consoles open from this address");
}

// "15m", "90s", "500ms": how a limit is told to the browser.
std::string duration_words(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1'000 == 0) return std::to_string(ms / 1'000) + "s";
  return std::to_string(ms) + "ms";
}

// An upgraded session's console, or why there is none.
struct Connected {
  std::unique_ptr<stream::ByteStream> console;
  std::string description;  // how it was reached, for the log
  std::string domain_name;
  ConsoleKind kind = ConsoleKind::vnc;
  Refused refused{Refusal::invalid_token, {}, {}};
  // Where it goes, for its layers; the VNC password in it is dropped once used.
  std::optional<ConsoleTarget> target;
};

// Authorise, and open the console with the opener of its kind.
net::awaitable<Connected> connect_console(Services& s, const Request& req, std::string_view target,
                                          SessionState& state) {
  Connected c;
  const Authority authority = s.authority_for(*state.credentials, *state.hosts);
  Decision decision = co_await authorize(authority, console_request(req, target, state, true));
  note_names(state, decision);
  if (!decision) {
    c.refused = std::move(decision.refused);
    s.events.refused(state.info, c.refused);
    co_return c;
  }
  const ConsoleTarget& console = *decision.target;
  const tunnel::ConsoleOpener* opener = s.openers.for_kind(console.console);
  if (!opener) {
    c.refused = Refused{Refusal::no_console, "console type not served",
                        std::string(console_kind_name(console.console))};
    s.events.refused(state.info, c.refused);
    co_return c;
  }
  tunnel::ConnectResult opened = co_await opener->open(tunnel::ConsoleSpec{
      *console.route, decision.uuid, console.console, console.path, console.device, console.force});
  if (!opened) {
    c.refused = connect_refusal(opened);
    s.events.refused(state.info, c.refused);
    co_return c;
  }
  c.console = std::move(opened.stream);
  c.description = std::move(opened.description);
  c.domain_name = std::move(decision.domain_name);
  c.kind = console.console;
  c.target = std::move(decision.target);
  co_return c;
}

// What the listeners hear when the pump starts.
ConsoleOpened console_opened(const Connected& c, const SessionState& state) {
  ConsoleOpened opened;
  opened.domain_name = c.domain_name;
  opened.console = c.kind;
  opened.via = c.description;
  opened.setup = Clock::now() - state.info.started;
  return opened;
}

// The recording layer around the browser's end when its host or token asks
// for a recording (recording.hpp); null otherwise.
std::unique_ptr<RecordingStream> recording_layer(Services& s, const Connected& c,
                                                 stream::ByteStream& browser,
                                                 const SessionState& state) {
  if (!s.recorder || !c.target || !c.target->record) return nullptr;
  RecordingHeader header;
  header.session = state.info.id;
  header.host = state.info.host_id;
  header.uuid = state.info.uuid;
  header.domain_name = c.domain_name;
  header.console = std::string(console_kind_name(c.kind));
  header.started = std::chrono::system_clock::now();
  header.include_input = s.recorder->config().include_input;
  return std::make_unique<RecordingStream>(browser, s.recorder->start(header, prefix(state)));
}

// Puts the console's protocol layers around it (console_layers.hpp). Returns
// why the session must end instead, if it must.
net::awaitable<std::optional<stream::EndReason>> layer(stream::ByteStream& browser, Connected& c,
                                                       Services& s, const SessionState& state) {
  const auto limit = s.config.connect_timeout * 2;
  LayeredConsole layered = co_await layer_console(browser, std::move(c.console), *c.target, limit);
  if (c.target->console_password) {
    OPENSSL_cleanse(c.target->console_password->data(), c.target->console_password->size());
  }
  c.target.reset();
  if (layered.refused) {
    layered.refused->detail =
        c.description + (layered.refused->detail.empty() ? "" : ": ") + layered.refused->detail;
    s.events.refused(state.info, *layered.refused);
    co_return end_reason(*layered.refused);
  }
  if (layered.browser_ended) {
    logger.debug(prefix(state),
                 " browser ended the console handshake: ", layered.browser_ended->text);
    co_return layered.browser_ended;
  }
  c.console = std::move(layered.console);
  if (!layered.security.empty()) c.description += " " + layered.security;
  co_return std::nullopt;
}

// Why a console ended by itself, when libvirt says its VM is no longer running
// (stopped, destroyed, or gone): the socket of a VM that stops closes just as
// any other, so ask. libvirt may mark the VM stopped a moment after its QEMU
// closed the socket: a VM still running is asked again twice, 200 ms apart.
// Nothing (the plain "console closed") while it runs or cannot be asked.
net::awaitable<std::optional<stream::EndReason>> vm_stopped_reason(const HostSet& hosts,
                                                                   const SessionInfo& info) {
  using Status = libvirt::DomainLookup::Status;
  net::steady_timer pause(co_await net::this_coro::executor);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) {
      pause.expires_after(std::chrono::milliseconds(200));
      co_await pause.async_wait(use_tuple);
    }
    const std::string host = info.host_id;
    const std::string uuid = info.uuid;
    const libvirt::DomainLookup found = co_await hosts.hypervisors->lookup(host, uuid);
    if (found.status == Status::unknown_domain || (found.status == Status::ok && !found.running)) {
      stream::EndReason why;  // a normal end, as the plain "console closed" is
      why.code = 1000;
      why.text = "console closed: the VM stopped";
      co_return why;
    }
    if (found.status != Status::ok) break;
  }
  co_return std::nullopt;
}

// Asks libvirt, when a console ended by itself, whether its VM stopped.
class VmStoppedReason final : public stream::ConsoleEndReason {
 public:
  explicit VmStoppedReason(const SessionState& state) : state_(state) {}
  net::awaitable<std::optional<stream::EndReason>> explain() override {
    return vm_stopped_reason(*state_.hosts, state_.info);
  }

 private:
  const SessionState& state_;
};

// An open console among those that stopping the gateway closes with 1001. The
// ender may be called just as the session ends; what it posts runs on this
// session's executor, and `alive` (cleared there, when this goes) tells it
// whether the session is still here.
class OpenConsole {
 public:
  template <class Client>
  OpenConsole(Services& s, const SessionState& state, Client& client,
              stream::ByteStream* console_stream, const net::any_io_executor& executor)
      : alive_(std::make_shared<bool>(true)),
        registered_(
            s.sessions.add(state.info.id, [&client, console_stream, alive = alive_, executor] {
              net::post(executor, [&client, console_stream, alive] {
                if (!*alive) return;
                client.override_close_reason({1001, "gateway restarting"});
                console_stream->abort();
              });
            })) {}
  OpenConsole(const OpenConsole&) = delete;
  OpenConsole& operator=(const OpenConsole&) = delete;
  ~OpenConsole() { *alive_ = false; }

 private:
  std::shared_ptr<bool> alive_;
  SessionRegistry::Entry registered_;
};

// Tells the events how the console ended, and counts the limits that ended it.
void report_end(Services& s, const SessionState& state, const stream::PumpResult& result) {
  SessionEnded end;
  end.ended_by = result.ended_by == stream::PumpResult::Ender::client
                     ? SessionEnded::Ender::client
                     : SessionEnded::Ender::console;
  end.cause = result.error;
  if (result.told) end.reason = result.told->text;
  end.to_console = result.client_to_console;
  end.to_client = result.console_to_client;
  end.duration = Clock::now() - state.info.started;
  if (result.error == boost::system::errc::message_size) {
    s.admission->refused(Limit::max_message_bytes);
  } else if (result.error == stream::idle_error()) {
    s.admission->refused(Limit::idle_timeout);
  } else if (result.error == stream::too_long_error()) {
    s.admission->refused(Limit::max_session_length);
  }
  s.events.ended(state.info, end);
}

// Pumps a connected console until either side ends. The work that does not
// wait is in plain functions: what a coroutine declares stays in its frame for
// as long as the console is open. `browser` is `client` itself, or the
// recording layer around it.
template <class Client>
net::awaitable<void> pump_console(Client& client, stream::ByteStream& browser, Connected& c,
                                  Services& s, const SessionState& state) {
  s.events.connected(state.info, console_opened(c, state));
  const net::any_io_executor executor = co_await net::this_coro::executor;
  const OpenConsole open(s, state, client, c.console.get(), executor);
  VmStoppedReason why_ended(state);
  const stream::PumpResult result =
      co_await stream::pump(browser, *c.console, s.pump_options, &why_ended);
  if (result.stalled && result.ended_by == stream::PumpResult::Ender::console) {
    // The pump stopped reading the browser when the console stopped taking its
    // data; read (and drop) the rest until its close reply, so that closing the
    // socket with unread data does not reset the connection before the browser
    // has read why (at most the close handshake's 5 s).
    co_await client.close_and_drain(s.pump_options.console_stalled);
  }
  report_end(s, state, result);
}

// A session after its 101: our own framing (WsStream over a plain socket,
// WssStream over TLS). It runs as a coroutine of its own, so that the HTTP
// phase's frames and buffers are gone while the console is open.
template <class Ws>
struct UpgradedConsole {
  template <class Transport>
  UpgradedConsole(Transport transport, Request r, std::string t, SessionState st)
      : ws(std::move(transport)),
        req(std::make_unique<Request>(std::move(r))),
        target(std::move(t)),
        state(std::move(st)) {}
  Ws ws;
  std::unique_ptr<Request> req;  // until the console is connected
  std::string target;
  SessionState state;
};

template <class Ws>
net::awaitable<void> run_console(std::unique_ptr<UpgradedConsole<Ws>> session, Services& s) {
  session->ws.limit_message_size(s.config.limits.max_message_bytes);
  Connected c = co_await connect_console(s, *session->req, session->target, session->state);
  // The request is not needed any more; an idle console should hold little.
  session->req.reset();
  std::string().swap(session->target);
  if (!c.console) {
    const stream::EndReason why = end_reason(c.refused);
    co_await session->ws.close_and_drain(why);
    co_return;
  }
  // The recording layer goes around the browser's end, before the RFB layer
  // speaks to it: the file holds what the browser saw, handshake included.
  // On the heap: a session that is not recorded keeps one null pointer for it.
  std::unique_ptr<RecordingStream> recorded = recording_layer(s, c, session->ws, session->state);
  stream::ByteStream& browser = recorded ? static_cast<stream::ByteStream&>(*recorded)
                                         : static_cast<stream::ByteStream&>(session->ws);
  if (const auto ended = co_await layer(browser, c, s, session->state)) {
    co_await session->ws.close_and_drain(*ended);
    co_return;
  }
  session->ws.keep_alive(s.config.ping_interval);
  co_await pump_console(session->ws, browser, c, s, session->state);
}

// What the WebSocket frames go over once the HTTP phase is done.
websocket::PlainSocket websocket_transport(beast::tcp_stream& stream) {
  return websocket::PlainSocket(stream.release_socket());
}
websocket::TlsSocket websocket_transport(websocket::TlsSocket& stream) { return std::move(stream); }

// Answers the upgrade and hands the connection to run_console.
template <class Stream>
net::awaitable<void> serve_websocket(Stream& stream, Request req, std::string target, Services& s,
                                     SessionState& state) {
  if (auto refused = websocket::handshake_refusal(req)) {
    logger.debug(prefix(state), " websocket handshake refused: ", refused->body());
    co_await http::async_write(stream, *refused, use_tuple);
    end_stream(stream);
    co_return;
  }
  if (auto refused = admit_console(s, req, state)) {
    co_await http::async_write(stream, *refused, use_tuple);
    end_stream(stream);
    co_return;
  }
  auto res = websocket::switching_protocols(req);
  auto [write_error, n] = co_await http::async_write(stream, res, use_tuple);
  if (write_error) co_return;
  stream.expires_never();
  auto transport = websocket_transport(stream);
  auto session = std::make_unique<UpgradedConsole<websocket::BasicWsStream<decltype(transport)>>>(
      std::move(transport), std::move(req), std::move(target), std::move(state));
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
                                              const StaticFiles& root, std::string_view path,
                                              const std::vector<std::string>& allowed_origins) {
  const auto file = root.resolve(path);
  if (!file) co_return std::nullopt;
  http::file_body::value_type body;
  beast::error_code open_error;
  body.open(file->c_str(), beast::file_mode::scan, open_error);
  if (open_error) co_return std::nullopt;
  const auto size = body.size();
  http::response_header<> header =
      file_header(req, StaticFiles::content_type(*file), allowed_origins);
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

const std::optional<StaticFiles>& static_root(const Services& s, Route::Mount mount) {
  switch (mount) {
    case Route::Mount::novnc:
      return s.novnc;
    case Route::Mount::spice:
      return s.spice;
    case Route::Mount::xterm:
      return s.xterm;
    case Route::Mount::web:
      break;
  }
  return s.web;
}

// Answers a request that is not a WebSocket upgrade. Returns whether the
// connection may serve another.
template <class Stream>
net::awaitable<bool> answer_http(Stream& stream, const Request& req, const Route& route,
                                 Services& s, SessionState& state) {
  using Kind = Route::Kind;
  switch (route.kind) {
    case Kind::websocket:
      break;
    case Kind::method_not_allowed: {
      auto res = text_response(req, http::status::method_not_allowed, "method not allowed");
      res.set(http::field::allow, "GET, HEAD");
      res.keep_alive(false);
      co_return co_await send(stream, req, res);
    }
    case Kind::bad_target: {
      auto res = text_response(req, http::status::bad_request, "bad request target");
      res.keep_alive(false);
      co_return co_await send(stream, req, res);
    }
    case Kind::health: {
      auto res = text_response(req, http::status::ok, "ok");
      co_return co_await send(stream, req, res);
    }
    case Kind::metrics: {
      // Host IDs and traffic are not for everyone: the TCP peer decides, never
      // what a proxy says; anyone else gets the 404 of a path that is not there.
      if (!s.metrics.allows(state.peer)) {
        logger.info(prefix(state), " /metrics refused: ",
                    s.metrics.registry ? "peer not in gateway.metrics_allow"
                                       : "metrics are off (gateway.metrics_allow is empty)");
        break;
      }
      auto res =
          exposition_response(req, s.metrics.registry->expose(), metrics::Registry::content_type);
      co_return co_await send(stream, req, res);
    }
    case Kind::console_page: {
      const Authority authority = s.authority_for(*state.credentials, *state.hosts);
      const Decision decision =
          co_await authorize(authority, console_request(req, route.target, state));
      note_names(state, decision);
      if (decision) {
        s.events.page_served(state.info, decision.target->console);
      } else {
        s.events.refused(state.info, decision.refused);
      }
      auto res = console_page_response(req, decision, s.config.base_path, s.config.allowed_origins);
      co_return co_await send(stream, req, res);
    }
    case Kind::favicon: {
      auto res = no_content_response(req);
      co_return co_await send(stream, req, res);
    }
    case Kind::console_status: {
      const Authority authority = s.authority_for(*state.credentials, *state.hosts);
      const Decision decision =
          co_await authorize(authority, console_request(req, route.target, state));
      note_names(state, decision);
      if (!decision) {
        s.events.refused(state.info, decision.refused);
        auto res = refusal_response(req, decision.refused);
        co_return co_await send(stream, req, res);
      }
      auto res = text_response(req, http::status::upgrade_required, "WebSocket upgrade required");
      res.set(http::field::upgrade, "websocket");
      co_return co_await send(stream, req, res);
    }
    case Kind::static_file:
      if (auto kept = co_await send_file(stream, req, *static_root(s, route.mount), route.file,
                                         s.config.allowed_origins)) {
        co_return *kept;
      }
      break;
    case Kind::not_found:
      break;
  }
  auto res = text_response(req, http::status::not_found, "not found");
  if (route.close) res.keep_alive(false);
  co_return co_await send(stream, req, res);
}

// An address as text, without inet_ntop's printf for the common IPv4 case
// (it is formatted for every connection).
std::string address_text(const net::ip::address& address) {
  if (!address.is_v4()) return address.to_string();
  const auto bytes = address.to_v4().to_bytes();
  std::string text;
  text.reserve(15);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) text += '.';
    const unsigned b = bytes[i];
    if (b >= 100) text += static_cast<char>('0' + b / 100);
    if (b >= 10) text += static_cast<char>('0' + b / 10 % 10);
    text += static_cast<char>('0' + b % 10);
  }
  return text;
}

// Who the browser is: the TCP peer, unless the peer is a trusted proxy that says.
void apply_forwarding(const Services& s, const Request& req, SessionState& state) {
  state.scheme = state.secure ? "https" : "http";
  if (!s.proxies.trusts(state.peer)) return;  // the client stays the peer
  // Each request says anew (keep-alive): start from the peer.
  state.info.client = state.info.peer;
  state.client_address = address_text(state.peer);
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
  if (!said.client.empty()) state.info.client = state.client_address = said.client;
  if (!said.scheme.empty()) state.scheme = said.scheme;
}

StaticMounts mounts_of(const Services& s) {
  StaticMounts mounts;
  mounts.novnc = s.novnc.has_value();
  mounts.spice = s.spice.has_value();
  mounts.xterm = s.xterm.has_value();
  mounts.web = s.web.has_value();
  return mounts;
}

// The HTTP phase: requests one after another until one upgrades to a WebSocket,
// the connection may not go on, or the browser goes away.
template <class Stream>
net::awaitable<void> serve(Stream stream, beast::flat_buffer buffer, Services& s,
                           SessionState state) {
  const LimitsConfig& limits = s.config.limits;
  for (;;) {
    // Each request must have come whole within handshake_timeout (the first
    // one: of the connection's start): a trickle of bytes holds nothing longer.
    expire_at(stream, state.handshake_deadline);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    auto [read_error, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_error == http::error::header_limit) {
      logger.info(prefix(state), " bad request: header larger than limits.max_header_bytes (",
                  limits.max_header_bytes, " bytes): 431");
      s.admission->refused(Limit::max_header_bytes);
      auto res = text_response(Request{}, http::status::request_header_fields_too_large,
                               "request header fields too large");
      res.keep_alive(false);
      co_await http::async_write(stream, res, use_tuple);
      break;
    }
    if (read_error) {
      if (read_error != http::error::end_of_stream && read_error != net::error::eof &&
          read_error != beast::error::timeout && read_error != ssl::error::stream_truncated) {
        logger.debug(prefix(state), " bad request: ", read_error.message());
        auto res = text_response(Request{}, http::status::bad_request, "bad request");
        res.keep_alive(false);
        co_await http::async_write(stream, res, use_tuple);
      }
      break;
    }
    Request req = parser.release();
    if (const auto problem = host_header_problem(req.version(), req.count(http::field::host))) {
      // Before routing: a plain request, the console page, a file or an upgrade alike.
      logger.info(prefix(state), " bad request: ", *problem);
      auto res = text_response(req, http::status::bad_request, std::string(*problem));
      res.keep_alive(false);
      co_await http::async_write(stream, res, use_tuple);
      break;
    }
    apply_forwarding(s, req, state);
    Route route =
        route_request(req.method_string(), req.target(), beast::websocket::is_upgrade(req),
                      s.config.base_path, mounts_of(s));
    if (route.kind == Route::Kind::websocket || route.kind == Route::Kind::console_page ||
        route.kind == Route::Kind::console_status) {
      if (auto refused = check_rate(s, req, state)) {
        co_await http::async_write(stream, *refused, use_tuple);
        break;
      }
    }
    if (route.kind == Route::Kind::websocket) {
      // A client sends no frames before the upgrade is answered: nothing in
      // the buffer is lost, and the session keeps no HTTP buffer.
      buffer.clear();
      buffer.shrink_to_fit();
      // The connection moves to the console's coroutine: touch it no more.
      co_await serve_websocket(stream, std::move(req), std::move(route.target), s, state);
      co_return;
    }
    if (!co_await answer_http(stream, req, route, s, state)) break;
    state.handshake_deadline = Clock::now() + limits.handshake_timeout;
  }
  end_stream(stream);
}

}  // namespace

stream::PumpOptions session_pump_options(const Config& config) {
  stream::PumpOptions options;
  options.write_timeout = config.write_timeout;
  options.idle_timeout = config.limits.idle_timeout;
  if (options.idle_timeout.count() > 0) {
    options.idle.text = "console idle for " + duration_words(config.limits.idle_timeout);
  }
  options.max_length = config.limits.max_session_length;
  if (options.max_length.count() > 0) {
    options.too_long.text =
        "session time limit (" + duration_words(config.limits.max_session_length) + ") reached";
  }
  return options;
}

void report_session_end(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    logger.warn("session ended by an unexpected error: ", e.what());
  }
}

net::awaitable<void> run_session(tcp::socket socket, Services& s, std::uint64_t session_id) {
  SessionState state;
  state.info.id = session_id;
  state.credentials = s.credentials.get();
  state.hosts = s.hosts.get();
  beast::error_code ec;
  const auto peer = socket.remote_endpoint(ec);
  if (!ec) {
    state.peer = peer.address();
    state.client_address = address_text(state.peer);
    state.info.peer =
        (state.peer.is_v6() ? "[" + state.client_address + "]" : state.client_address) + ":" +
        std::to_string(peer.port());
  } else {
    state.info.peer = "?";
    state.client_address = state.peer.to_string();
  }
  state.info.client = state.info.peer;
  state.handshake_deadline = state.info.started + s.config.limits.handshake_timeout;
  // A place among the connections in their handshake, until the upgrade (or
  // the end): many slow ones from one peer (slowloris) take only its share.
  Admission::Verdict why{};
  const Admission::Ticket handshaking =
      s.admission->begin_handshake(state.client_address, s.proxies.trusts(state.peer), why);
  if (!handshaking) {
    if (why == Admission::Verdict::total_full) {
      handshake_total_log.note(
          s, state, std::to_string(s.config.limits.max_handshakes) + " connections handshaking");
    } else {
      handshake_peer_log.note(s, state,
                              std::to_string(s.config.limits.max_handshakes_per_peer) +
                                  " connections handshaking from " + state.client_address);
    }
    co_return;
  }
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);

  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // One port for both: a TLS ClientHello starts with 0x16; anything else is plain HTTP.
  expire_at(stream, state.handshake_deadline);
  auto [detect_error, is_tls] = co_await beast::async_detect_ssl(stream, buffer, use_tuple);
  if (detect_error) co_return;

  if (is_tls) {
    ssl_ctx_st* const tls_context = state.credentials->tls.get();
    if (!tls_context) {
      SessionLogWriter::connection_refused(state.info, "TLS without a certificate configured");
      co_return;
    }
    // The bytes read while detecting are the start of the handshake: hand them over.
    const auto initial = buffer.cdata();
    websocket::TlsSocket tls(
        stream.release_socket(), tls_context,
        std::string_view(static_cast<const char*>(initial.data()), initial.size()));
    buffer.clear();
    expire_at(tls, state.handshake_deadline);
    if (const beast::error_code handshake_error = co_await tls.handshake()) {
      logger.debug(prefix(state), " TLS handshake failed: ", handshake_error.message());
      co_return;
    }
    state.secure = true;
    co_await serve(std::move(tls), std::move(buffer), s, std::move(state));
    co_return;
  }

  if (s.config.ssl_only) {
    SessionLogWriter::connection_refused(state.info, "plain connection with ssl_only");
    Request req;
    req.version(11);
    auto res = text_response(req, http::status::forbidden, "TLS required (wss:// or https://)");
    res.keep_alive(false);
    co_await http::async_write(stream, res, use_tuple);
    end_stream(stream);
    co_return;
  }
  co_await serve(std::move(stream), std::move(buffer), s, std::move(state));
}

}  // namespace cgw::gateway
