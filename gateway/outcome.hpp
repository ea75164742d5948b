// The answers the gateway gives a browser when it cannot open a console: a
// WebSocket close code with a short reason, or, for a plain HTTP request, the
// matching status with the same words.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cgw::gateway {

enum class Refusal : std::uint16_t {
  invalid_token = 4401,
  token_expired = 4402,
  origin_not_allowed = 4403,
  unknown_host_or_domain = 4404,
  no_console = 4409,  // domain not running, or no console of that type
  // A serial console taken over by a client with "force" (4410 is the
  // session time limit, limits.max_session_length).
  console_taken_over = 4411,
  console_busy = 4423,            // a serial console another client holds (no "force")
  hypervisor_unreachable = 4502,  // also: the console's TLS certificate not trusted
  console_security = 4503,  // the console's own security refused the gateway (VNC password, ...)
  console_unreachable = 4504,
  // A one-time token (a "jti") while the shared store of used tokens (Redis,
  // [tokens] replay_store) does not answer: refused, since it can't be used up.
  replay_store_unavailable = 4505,
};

constexpr std::uint16_t close_code(Refusal r) { return static_cast<std::uint16_t>(r); }

// 4401 → 401, 4402 → 401, 4403 → 403, 4404 → 404, 4409 → 409, 4411 → 410
// (gone to another client), 4423 → 423 (locked), 4502 → 502,
// 4503 → 502 (the upstream's answer was bad), 4504 → 504, 4505 → 503.
constexpr unsigned http_status(Refusal r) {
  switch (r) {
    case Refusal::invalid_token:
    case Refusal::token_expired:
      return 401;
    case Refusal::origin_not_allowed:
      return 403;
    case Refusal::unknown_host_or_domain:
      return 404;
    case Refusal::no_console:
      return 409;
    case Refusal::console_taken_over:
      return 410;
    case Refusal::console_busy:
      return 423;
    case Refusal::hypervisor_unreachable:
    case Refusal::console_security:
      return 502;
    case Refusal::console_unreachable:
      return 504;
    case Refusal::replay_store_unavailable:
      return 503;
  }
  return 500;
}

// A refusal with its words. `reason` goes to the browser (at most 123 bytes, the
// WebSocket limit); `detail` only to the log.
struct Refused {
  Refusal code;
  std::string reason;
  std::string detail;
};

}  // namespace cgw::gateway
