#include "tests/support/socket_peer.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

namespace cgw::test {

SocketPeer::SocketPeer(int fd, std::chrono::seconds limit) : fd_(fd) {
  timeval tv{static_cast<time_t>(limit.count()), 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void SocketPeer::send(std::string_view data) {
  ASSERT_EQ(::send(fd_, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

std::string SocketPeer::recv(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  out.resize(got);
  return out;
}

std::string SocketPeer::pending() {
  std::string out(4096, '\0');
  const ssize_t r = ::recv(fd_, out.data(), out.size(), MSG_DONTWAIT);
  out.resize(r > 0 ? static_cast<std::size_t>(r) : 0);
  return out;
}

void SocketPeer::close() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace cgw::test
