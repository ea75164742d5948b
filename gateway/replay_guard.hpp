// ReplayGuard: one-time tokens. A token that carries a "jti" opens a console
// once; its ID is remembered until the token expires, in this process (the
// default ReplayStore; RedisReplayStore shares them between gateways).
//
// SPICE is the exception the protocol forces: spice-html5 opens one WebSocket
// per SPICE channel (main, display, inputs, cursor, ...), each with the page's
// token. The connections that follow the first are admitted for a short grace
// period, and only from the same client address.
//
// Thread-safe; admit() takes one mutex for a map lookup and insert, and sweeps
// expired IDs now and then, so memory stays bounded by the tokens alive.
#pragma once

#include "gateway/replay_store.hpp"

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cgw::gateway {

class ReplayGuard final : public ReplayStore {
 public:
  using Clock = std::chrono::system_clock;
  explicit ReplayGuard(std::chrono::seconds grace = std::chrono::seconds(30)) : grace_(grace) {}

  // True the first time `jti` is seen (remembered until `expires`). Again only
  // when `allow_grace`, from the same `client`, within the grace period of
  // the first use.
  bool admit(std::string_view jti, Clock::time_point expires, std::string_view client,
             bool allow_grace, Clock::time_point now = Clock::now());

  // Whether admit() would refuse, without remembering anything (the console
  // page checks a token it does not use).
  bool refuses(std::string_view jti, std::string_view client, bool allow_grace,
               Clock::time_point now = Clock::now()) const;

  std::size_t remembered() const;

  // admit() or refuses(), answered at once on the caller's thread.
  boost::asio::awaitable<ReplayAnswer> check(const ReplayUse& use) override;

 private:
  struct Use {
    Clock::time_point expires;
    Clock::time_point first;
    std::string client;
  };
  void sweep(Clock::time_point now);

  std::chrono::seconds grace_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Use> used_;
  std::size_t inserts_since_sweep_ = 0;
};

}  // namespace cgw::gateway
