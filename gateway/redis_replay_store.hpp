// RedisReplayStore: one-time tokens' IDs in a Redis server that several
// gateways share ([tokens] replay_store = "redis://…"), so that a token used
// on one gateway is refused on every other.
//
// A use is `SET console-gw:jti:<jti> "<first use, ms since the epoch> <client>"
// NX PX <until the token's end>`. When the key is there already, a GET tells
// whether the SPICE grace rule admits it anyway (the same client, within the
// grace period of the first use), as ReplayGuard does in one process.
//
// hiredis is blocking, so every command runs on the store's own thread, never
// on a network thread; check() completes on the caller's executor, with
// Verdict::unavailable when Redis does not answer within the time limit, is
// unreachable or answers with an error. One-time tokens are then refused (fail
// closed); the next check() connects again. A change of reachability is logged
// once (never the password); each refusal is the session's own log line.
#pragma once

#include "gateway/replay_store.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::metrics {
class Registry;
}

namespace cgw::gateway {

struct Config;

// Where the Redis server is: "redis://[[user]:password@]host[:port][/db]" or
// "unix:///path/to/socket[?db=N]".
struct RedisTarget {
  std::string host;  // empty for a UNIX socket
  std::uint16_t port = 6379;
  std::string socket_path;  // a UNIX socket's path
  int db = 0;
  std::string user;      // Redis 6 ACL user; empty: the default user
  std::string password;  // a secret: never logged; empty: no AUTH

  // host:port or the socket's path, for the log.
  std::string where() const;
};

// nullopt when `url` is not one of the forms above.
std::optional<RedisTarget> parse_redis_url(std::string_view url);

struct RedisStoreOptions {
  RedisTarget target;
  std::chrono::milliseconds timeout{1000};  // each round trip, and connecting
  std::chrono::seconds grace{30};           // SPICE's further channels (as ReplayGuard)
  std::string key_prefix = "console-gw:jti:";
};

// The options [tokens] replay_store* say, the password file read. Throws
// ConfigError (one line, never the password) when it can't be read. Only for a
// Config whose replay_store is set.
RedisStoreOptions redis_store_options(const Config& config);

class RedisReplayStore final : public ReplayStore {
 public:
  explicit RedisReplayStore(RedisStoreOptions options);
  // Waits for the command in progress, if any (at most the time limit).
  ~RedisReplayStore() override;
  RedisReplayStore(const RedisReplayStore&) = delete;
  RedisReplayStore& operator=(const RedisReplayStore&) = delete;

  boost::asio::awaitable<ReplayAnswer> check(const ReplayUse& use) override;

  // console_gw_replay_store_errors_total: the checks Redis did not answer.
  void expose(metrics::Registry& registry);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cgw::gateway
