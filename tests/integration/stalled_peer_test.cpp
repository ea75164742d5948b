// A console or a browser that stops reading must not hold a session forever:
// the real Server (libvirt's test driver, in-process) in front of a console of
// the test's own that accepts and never reads (or floods), and a browser of raw
// system calls that uploads until its writes stall, then closes with a FIN or
// resets. gateway.write_timeout = 1s; each session must be gone within 5 s.
#include "gateway/config.hpp"
#include "in_process_gateway.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A listening socket on 127.0.0.1 that accepts one connection.
class ConsoleListener {
 public:
  ConsoleListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "console listener: " << std::strerror(errno);
    }
    port_ = ntohs(a.sin_port);
  }
  ~ConsoleListener() {
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  // The gateway's connection, once it has come (within 5 s), else -1.
  int accepted() {
    if (conn_ >= 0) return conn_;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) == 1) conn_ = ::accept(fd_, nullptr, nullptr);
    return conn_;
  }

 private:
  int fd_ = -1;
  int conn_ = -1;
  std::uint16_t port_ = 0;
};

// The gateway, whose "echo" domain's console is `console_port`.
class Gateway : public test::InProcessGateway {
 public:
  explicit Gateway(std::uint16_t console_port)
      : InProcessGateway(
            [](gateway::Config& c) {
              c.ping_interval = 30s;  // the watchdog, not the heartbeat, must end these
              c.write_timeout = 1s;
              // The browsers here upload one endless message: the message size
              // limit (4 MiB by default, limits_test.cpp) must not end it before
              // the stalled write does, however much the socket buffers take.
              c.limits.max_message_bytes = std::uint64_t{1} << 40;
            },
            console_port) {}
};

// A browser of raw system calls: the upgrade, then masked binary frames written
// without blocking, so that the test sees when its writes stall.
class RawBrowser {
 public:
  RawBrowser(std::uint16_t port, const std::string& token) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
      return;
    }
    const std::string request = "GET /websockify?token=" + token +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    EXPECT_EQ(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd_, &c, 1, 0) == 1) head += c;
    EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    // One 16 KiB binary frame, masked with a zero key (the payload as it is).
    frame_ = {'\x82', '\xfe', '\x40', '\x00', 0, 0, 0, 0};
    frame_.append(16 * 1024, 'u');
  }
  ~RawBrowser() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Writes frames until nothing more is taken for `stall`; returns the bytes written.
  std::size_t upload_until_stalled(std::chrono::milliseconds stall) {
    std::size_t total = 0;
    for (;;) {
      const ssize_t n = ::send(fd_, frame_.data() + offset_, frame_.size() - offset_, MSG_NOSIGNAL);
      if (n > 0) {
        total += static_cast<std::size_t>(n);
        offset_ = (offset_ + static_cast<std::size_t>(n)) % frame_.size();
        continue;
      }
      if (n < 0 && errno != EAGAIN) return total;
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(stall.count())) == 0) return total;
    }
  }
  // Writes `bytes` (whole frames), waiting for room as long as it takes.
  void upload(std::size_t bytes) {
    std::size_t total = 0;
    while (total < bytes) {
      const ssize_t n = ::send(fd_, frame_.data() + offset_, frame_.size() - offset_, MSG_NOSIGNAL);
      if (n > 0) {
        total += static_cast<std::size_t>(n);
        offset_ = (offset_ + static_cast<std::size_t>(n)) % frame_.size();
        continue;
      }
      if (n < 0 && errno != EAGAIN) {
        ADD_FAILURE() << "upload: " << std::strerror(errno);
        return;
      }
      pollfd p{fd_, POLLOUT, 0};
      ::poll(&p, 1, 1000);
    }
  }
  // FIN: closes with an empty receive buffer.
  void close_fin() {
    ::close(fd_);
    fd_ = -1;
  }
  // RST: SO_LINGER with a zero timeout.
  void reset() {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  std::size_t payload_per_frame() const { return frame_.size() - 8; }

 private:
  int fd_ = -1;
  std::string frame_;
  std::size_t offset_ = 0;
};

// Reads (and drops) what `fd` has until it ends, for at most `limit`: whether
// the gateway closed its end.
bool ends_within(int fd, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  char buf[64 * 1024];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
  }
  return false;
}

// The console accepts and never reads; the browser uploads until its writes
// stall (the pump's write to the console waits), then closes. Nobody reads the
// browser's socket meanwhile, so only the write's time limit can end it.
void console_never_reads(bool reset) {
  ConsoleListener console;
  Gateway gw(console.port());
  RawBrowser browser(gw.port(), gw.token());
  const int conn = console.accepted();
  ASSERT_GE(conn, 0);
  const std::size_t sent = browser.upload_until_stalled(500ms);
  EXPECT_GT(sent, 256u * 1024u);
  const auto closed_at = Clock::now();
  if (reset) {
    browser.reset();
  } else {
    browser.close_fin();
  }
  EXPECT_TRUE(gw.none_active_within(5s));
  EXPECT_TRUE(ends_within(conn, 5s));
  EXPECT_LT(Clock::now() - closed_at, 5s);
}

TEST(StalledPeer, ConsoleThatNeverReadsIsLetGoAfterTheBrowserCloses) { console_never_reads(false); }

TEST(StalledPeer, ConsoleThatNeverReadsIsLetGoAfterTheBrowserResets) { console_never_reads(true); }

// While the browser is still there, it hears why: 4504 "console stopped reading".
TEST(StalledPeer, BrowserHearsThatTheConsoleStoppedReading) {
  ConsoleListener console;
  Gateway gw(console.port());
  test::WsOptions o;
  o.port = gw.port();
  o.target = "/websockify?token=" + gw.token();
  auto client = test::WsClient::connect(o);
  ASSERT_GE(console.accepted(), 0);
  // Larger than the socket buffers on the way take: the pump's write to the
  // console stalls, and the client's own write returns once the gateway has cut
  // it and read the rest.
  client->write(std::string(16 * 1024 * 1024, 'u'));
  const auto close = client->read_until_close();
  EXPECT_EQ(close.code, 4504);
  EXPECT_EQ(close.reason, "console stopped reading");
  EXPECT_TRUE(gw.none_active_within(5s));
}

// The console floods while the browser never reads, then the browser resets.
TEST(StalledPeer, FloodingConsoleIsLetGoAfterTheBrowserResets) {
  ConsoleListener console;
  Gateway gw(console.port());
  RawBrowser browser(gw.port(), gw.token());
  const int conn = console.accepted();
  ASSERT_GE(conn, 0);
  std::atomic<bool> flooding{true};
  std::thread flood([conn, &flooding] {
    const std::string chunk(64 * 1024, 'f');
    while (flooding) {
      pollfd p{conn, POLLOUT, 0};
      if (::poll(&p, 1, 100) != 1) continue;
      if (::send(conn, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
          errno != EAGAIN) {
        return;
      }
    }
  });
  std::this_thread::sleep_for(500ms);  // the gateway's write to the browser stalls
  const auto reset_at = Clock::now();
  browser.reset();
  EXPECT_TRUE(gw.none_active_within(5s));
  flooding = false;
  flood.join();
  EXPECT_TRUE(ends_within(conn, 5s));
  EXPECT_LT(Clock::now() - reset_at, 5s);
}

// A console that reads slowly but steadily is not cut: each completed write
// starts the time limit again.
TEST(StalledPeer, SlowButSteadyConsoleIsNotCut) {
  ConsoleListener console;
  Gateway gw(console.port());
  RawBrowser browser(gw.port(), gw.token());
  const int conn = console.accepted();
  ASSERT_GE(conn, 0);
  const std::size_t frames = 128;  // 2 MiB of payload
  const std::size_t expected = frames * browser.payload_per_frame();
  std::size_t received = 0;
  bool ended = false;
  std::thread reader([&] {
    // About 800 KiB/s: 16 KiB every 20 ms, so 2 MiB take about 2.5 s, more than
    // twice the 1 s limit.
    char buf[16 * 1024];
    while (received < expected) {
      std::this_thread::sleep_for(20ms);
      pollfd p{conn, POLLIN, 0};
      if (::poll(&p, 1, 2000) != 1) continue;
      const ssize_t n = ::recv(conn, buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        ended = true;
        return;
      }
      if (n > 0) received += static_cast<std::size_t>(n);
    }
  });
  browser.upload(frames * (browser.payload_per_frame() + 8));
  reader.join();
  EXPECT_FALSE(ended);
  EXPECT_EQ(received, expected);
  EXPECT_EQ(gw.active(), 1);
}

}  // namespace
}  // namespace cgw
