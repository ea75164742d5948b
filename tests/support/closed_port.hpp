// A loopback TCP port that refuses connections for as long as the object lives:
// a socket bound to 127.0.0.1 (port chosen by the kernel) that never listens.
// Connecting to it gets ECONNREFUSED, and since the port stays bound, no other
// process (or test running in parallel) can take it meanwhile.
#pragma once

#include <cstdint>

namespace cgw::test {

class ClosedPort {
 public:
  ClosedPort();  // throws std::system_error when no socket can be bound
  ~ClosedPort();
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace cgw::test
