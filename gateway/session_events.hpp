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

namespace cgw::gateway {

// Who a session is, as the log names it. Never the token.
struct SessionInfo {
  std::uint64_t id = 0;
  std::string peer;    // address:port of the TCP peer
  std::string client;  // the browser: the peer, or what a trusted proxy says
  std::string host_id = "-";
  std::string uuid = "-";
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// A console was opened and the pump starts.
struct ConsoleOpened {
  std::string_view domain_name;
  ConsoleKind console = ConsoleKind::vnc;
  std::string_view via;  // how it was reached ("tcp 127.0.0.1:5900", "ssh kvm01 ...")
};

// The pump stopped.
struct SessionEnded {
  enum class Ender { client, console };
  Ender ended_by = Ender::client;
  boost::system::error_code cause;  // what ended it (eof, the browser's close, an error)
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

// The session log: one line per event, under the "gateway" component.
class SessionLogWriter final : public SessionEvents {
 public:
  void refused(const SessionInfo& session, const Refused& refusal) override;
  void page_served(const SessionInfo& session, ConsoleKind console) override;
  void connected(const SessionInfo& session, const ConsoleOpened& console) override;
  void ended(const SessionInfo& session, const SessionEnded& end) override;

  // "session=7 client=10.0.0.5:51234 [proxy=127.0.0.1:40000] host=kvm01 uuid=…"
  static std::string prefix(const SessionInfo& session);
};

}  // namespace cgw::gateway
