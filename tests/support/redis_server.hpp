// A real redis-server (Debian's, from scripts/install-deps) for the tests of
// the shared one-time token store: on a free loopback port and a UNIX socket in
// the scratch directory, its files in a
// scratch directory, nothing saved to disk. Stopped (and waited for) when the
// object goes, or by stop(); start() brings it back on the same port.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cgw::test {

class RedisServer {
 public:
  // `dir` holds its log (redis.log); a non-empty `password` is its requirepass.
  explicit RedisServer(std::string dir, std::string password = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts it and waits until it answers PING; throws when it does not within 10 s.
  void start();
  void stop();  // SIGTERM, then waits for it to exit

  std::uint16_t port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:<port> (with the password, when set)
  std::string socket_path() const { return dir_ + "/redis.sock"; }  // it listens there too

 private:
  std::string dir_;
  std::string password_;
  std::uint16_t port_;
  pid_t pid_ = -1;
};

}  // namespace cgw::test
