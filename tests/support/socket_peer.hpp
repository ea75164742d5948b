// The far end of a socket whose other end the code under test owns, driven
// from the test's own thread with blocking system calls, each with a time
// limit: a scripted VNC server, SPICE server or browser for handshake tests.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace cgw::test {

class SocketPeer {
 public:
  explicit SocketPeer(int fd, std::chrono::seconds limit = std::chrono::seconds(2));
  // Sends all of `data` (a gtest failure when it cannot).
  void send(std::string_view data);
  // Receives `n` bytes, or fewer when the stream ends or the limit passes.
  std::string recv(std::size_t n);
  // Whatever has arrived, without waiting.
  std::string pending();
  // Shuts the socket down both ways (the descriptor stays its owner's).
  void close();

 private:
  int fd_;
};

}  // namespace cgw::test
