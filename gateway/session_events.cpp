#include "gateway/session_events.hpp"

#include "common/log.hpp"

#include <charconv>

namespace cgw::gateway {
namespace {

constexpr log::Logger logger{"gateway"};

}  // namespace

std::string SessionLogWriter::prefix(const SessionInfo& s) {
  char number[24];
  const auto end = std::to_chars(number, number + sizeof number, s.id).ptr;
  std::string out;
  out.reserve(80 + s.client.size() + s.peer.size() + s.host_id.size() + s.uuid.size());
  out.append("session=").append(number, end).append(" client=").append(s.client);
  if (s.client != s.peer) out.append(" proxy=").append(s.peer);
  out.append(" host=").append(s.host_id).append(" uuid=").append(s.uuid);
  return out;
}

void SessionLogWriter::refused(const SessionInfo& s, const Refused& r) {
  logger.info(prefix(s), " outcome=refused code=", close_code(r.code), " reason=\"", r.reason, "\"",
              r.detail.empty() ? "" : " detail=\"", r.detail, r.detail.empty() ? "" : "\"");
}

void SessionLogWriter::page_served(const SessionInfo& s, ConsoleKind console) {
  logger.info(prefix(s), " outcome=page console=", console_kind_name(console));
}

void SessionLogWriter::connected(const SessionInfo& s, const ConsoleOpened& c) {
  logger.info(prefix(s), " outcome=connected domain=\"", c.domain_name,
              "\" console=", console_kind_name(c.console), " via=\"", c.via, "\"");
}

void SessionLogWriter::ended(const SessionInfo& s, const SessionEnded& e) {
  const double seconds = std::chrono::duration<double>(e.duration).count();
  logger.info(prefix(s), " outcome=ended by=",
              e.ended_by == SessionEnded::Ender::client ? "client" : "console", " cause=\"",
              e.cause.message(), "\" to_console=", e.to_console, " to_client=", e.to_client,
              " duration=", seconds, "s");
}

}  // namespace cgw::gateway
