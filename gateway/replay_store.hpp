// ReplayStore: where one-time tokens' IDs ("jti") are remembered until they
// expire. Two kinds: ReplayGuard, in this process (the default), and
// RedisReplayStore, shared by every gateway that names the same Redis
// ([tokens] replay_store), so that a token used on one is refused on the others.
//
// check() may be called from any session's executor and completes on it; a
// store that talks to a server does so off the network threads, within a time
// limit. A store outlives every session that may call it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace cgw::gateway {

// One use of a one-time token, as authorisation asks about it.
struct ReplayUse {
  using Clock = std::chrono::system_clock;
  std::string_view jti;
  Clock::time_point expires;  // remembered until then
  std::string_view client;    // the browser's address
  // SPICE: the page's further channels, from the same client within the grace
  // period, are admitted too.
  bool allow_grace = false;
  // True: this use opens a console and so uses the token up (the WebSocket);
  // false: only whether it would be refused (the console page).
  bool uses_up = true;
};

struct ReplayAnswer {
  enum class Verdict {
    admitted,
    already_used,
    unavailable,  // the store could not answer: one-time tokens are refused
  };
  Verdict verdict = Verdict::admitted;
  std::string detail;  // unavailable: why, for the log (never a password)
};

class ReplayStore {
 public:
  virtual ~ReplayStore() = default;
  // `use` must stay valid until the answer.
  virtual boost::asio::awaitable<ReplayAnswer> check(const ReplayUse& use) = 0;
};

}  // namespace cgw::gateway
