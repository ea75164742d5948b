// SessionEvents: what happens to a session, told to whoever wants to know, in
// plain data. The log (SessionLogWriter) is the first listener; metrics,
// recording and audit listen here too, rather than parse or copy the log.
//
// Events are called on the session's thread, in order: at most one of
// connected() or refused() or page_served() per request, and ended() after
// connected(). A listener shared by sessions of several threads synchronises
// itself; it must not block.
#pragma once

#include "common/console_kind.hpp"
#include "gateway/outcome.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::gateway {

// Who a session is, as the log names it. Never the token.
struct SessionInfo {
  std::uint64_t id = 0;
  std::string peer;    // address:port of the TCP peer
  std::string client;  // the browser: the peer, or what a trusted proxy says
  std::string host_id = "-";
  std::string uuid = "-";
  // The path to the console once authorisation chose it: "direct" (TCP from
  // here), "unix" (a socket on this machine) or "ssh" (through the host's SSH);
  // "-" before. Always one of these literals.
  std::string_view path = "-";
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// A console was opened and the pump starts.
struct ConsoleOpened {
  std::string_view domain_name;
  ConsoleKind console = ConsoleKind::vnc;
  std::string_view via;  // how it was reached ("tcp 127.0.0.1:5900", "ssh kvm01 ...")
  // From the accepted connection (SessionInfo::started) to the pump's start.
  std::chrono::steady_clock::duration setup{};
};

// The pump stopped.
struct SessionEnded {
  enum class Ender { client, console };
  Ender ended_by = Ender::client;
  boost::system::error_code cause;  // what ended it (eof, the browser's close, an error)
  std::string reason;               // what the browser was told when the console ended first
  std::uint64_t to_console = 0;     // bytes, browser → console
  std::uint64_t to_client = 0;      // bytes, console → browser
  std::chrono::steady_clock::duration duration{};
};

class SessionEvents {
 public:
  virtual ~SessionEvents() = default;
  // A console request (WebSocket, the console page, or its plain HTTP form) was refused.
  virtual void refused(const SessionInfo& session, const Refused& refusal) = 0;
  // The console page was served for an authorised console.
  virtual void page_served(const SessionInfo& session, ConsoleKind console) = 0;
  virtual void connected(const SessionInfo& session, const ConsoleOpened& console) = 0;
  virtual void ended(const SessionInfo& session, const SessionEnded& end) = 0;
};

// Every event to each of several listeners, in the order they were added.
// Listeners are added before the first session and outlive the fan-out.
class SessionEventsFanout final : public SessionEvents {
 public:
  void add(SessionEvents& listener) { listeners_.push_back(&listener); }

  void refused(const SessionInfo& session, const Refused& refusal) override {
    for (SessionEvents* l : listeners_) l->refused(session, refusal);
  }
  void page_served(const SessionInfo& session, ConsoleKind console) override {
    for (SessionEvents* l : listeners_) l->page_served(session, console);
  }
  void connected(const SessionInfo& session, const ConsoleOpened& console) override {
    for (SessionEvents* l : listeners_) l->connected(session, console);
  }
  void ended(const SessionInfo& session, const SessionEnded& end) override {
    for (SessionEvents* l : listeners_) l->ended(session, end);
  }

 private:
  std::vector<SessionEvents*> listeners_;
};

// The session log: one line per event, under the "gateway" component. Each
// line carries session, client (and proxy, when a trusted proxy spoke for
// it), host, uuid, path and outcome; then what the event adds: refused: code,
// reason, detail, duration; connected: domain, console, via, setup; ended: by,
// cause, to_console, to_client (bytes), duration. In text they are key=value
// pairs; with --log-format json, keys of the line's object.
class SessionLogWriter final : public SessionEvents {
 public:
  void refused(const SessionInfo& session, const Refused& refusal) override;
  void page_served(const SessionInfo& session, ConsoleKind console) override;
  void connected(const SessionInfo& session, const ConsoleOpened& console) override;
  void ended(const SessionInfo& session, const SessionEnded& end) override;

  // A connection refused before any request (TLS without a certificate, plain
  // HTTP with ssl_only): the same fields, outcome=refused and `reason`.
  static void connection_refused(const SessionInfo& session, std::string_view reason);

  // "session=7 client=10.0.0.5:51234 [proxy=127.0.0.1:40000] host=kvm01 uuid=… path=…",
  // for the debug lines that go with a session.
  static std::string prefix(const SessionInfo& session);
};

}  // namespace cgw::gateway
