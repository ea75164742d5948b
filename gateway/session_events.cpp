#include "gateway/session_events.hpp"

#include "common/log.hpp"

#include <charconv>
#include <cmath>

namespace cgw::gateway {
namespace {

constexpr log::Logger logger{"gateway"};
using log::Field;

// Seconds, to the millisecond: what an operator reads, and no "4.31e-07s".
double seconds_of(std::chrono::steady_clock::duration d) {
  return std::round(std::chrono::duration<double>(d).count() * 1000) / 1000;
}

// The fields every session line starts with, then the event's own. Built in a
// plain function (an array of views into `s`), then logged as one event.
template <std::size_t N>
void session_event(std::string_view msg, const SessionInfo& s, std::string_view outcome,
                   const Field (&own)[N]) {
  if (!log::enabled(log::Level::info)) return;
  const bool proxied = s.client != s.peer;
  std::vector<Field> all;
  all.reserve(7 + N);
  all.push_back(log::number("session", s.id));
  all.push_back(log::word("client", s.client));
  if (proxied) all.push_back(log::word("proxy", s.peer));
  all.push_back(log::word("host", s.host_id));
  all.push_back(log::word("uuid", s.uuid));
  all.push_back(log::word("path", s.path));
  all.push_back(log::word("outcome", outcome));
  for (const Field& f : own) all.push_back(f);
  logger.event(log::Level::info, msg, all);
}

}  // namespace

std::string SessionLogWriter::prefix(const SessionInfo& s) {
  char number[24];
  const auto end = std::to_chars(number, number + sizeof number, s.id).ptr;
  std::string out;
  out.reserve(90 + s.client.size() + s.peer.size() + s.host_id.size() + s.uuid.size());
  out.append("session=").append(number, end).append(" client=").append(s.client);
  if (s.client != s.peer) out.append(" proxy=").append(s.peer);
  out.append(" host=").append(s.host_id).append(" uuid=").append(s.uuid);
  out.append(" path=").append(s.path);
  return out;
}

void SessionLogWriter::refused(const SessionInfo& s, const Refused& r) {
  const double duration = seconds_of(std::chrono::steady_clock::now() - s.started);
  if (r.detail.empty()) {
    session_event("session refused", s, "refused",
                  {log::number("code", close_code(r.code)), log::quoted("reason", r.reason),
                   log::seconds("duration", duration)});
  } else {
    session_event("session refused", s, "refused",
                  {log::number("code", close_code(r.code)), log::quoted("reason", r.reason),
                   log::quoted("detail", r.detail), log::seconds("duration", duration)});
  }
}

void SessionLogWriter::connection_refused(const SessionInfo& s, std::string_view reason) {
  const double duration = seconds_of(std::chrono::steady_clock::now() - s.started);
  session_event("connection refused", s, "refused",
                {log::quoted("reason", reason), log::seconds("duration", duration)});
}

void SessionLogWriter::page_served(const SessionInfo& s, ConsoleKind console) {
  session_event("console page served", s, "page",
                {log::word("console", console_kind_name(console))});
}

void SessionLogWriter::connected(const SessionInfo& s, const ConsoleOpened& c) {
  session_event(
      "session started", s, "connected",
      {log::quoted("domain", c.domain_name), log::word("console", console_kind_name(c.console)),
       log::quoted("via", c.via), log::seconds("setup", seconds_of(c.setup))});
}

void SessionLogWriter::ended(const SessionInfo& s, const SessionEnded& e) {
  const std::string cause = e.cause.message();
  const auto by = log::word("by", e.ended_by == SessionEnded::Ender::client ? "client" : "console");
  if (!e.reason.empty()) {
    session_event("session ended", s, "ended",
                  {by, log::quoted("cause", cause), log::quoted("reason", e.reason),
                   log::number("to_console", e.to_console), log::number("to_client", e.to_client),
                   log::seconds("duration", seconds_of(e.duration))});
    return;
  }
  session_event(
      "session ended", s, "ended",
      {by, log::quoted("cause", cause), log::number("to_console", e.to_console),
       log::number("to_client", e.to_client), log::seconds("duration", seconds_of(e.duration))});
}

}  // namespace cgw::gateway
