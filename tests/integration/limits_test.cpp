// [limits]: each limit of the real Server (libvirt's test driver, in-process,
// an EchoConsole for a console) against clients of raw system calls that do
// what a careless or hostile browser does: say nothing, trickle a request,
// send huge headers or messages, open too many consoles or too many
// handshakes (slowloris), sit idle, never answer pings. Each test fails
// without its limit. Other loopback addresses (127.0.0.2, ...) stand for other
// clients.
#include "gateway/config.hpp"
#include "in_process_gateway.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::InProcessGateway;

// A TCP connection from `source` (a loopback address) to the gateway.
class Raw {
 public:
  Raw(std::uint16_t port, const char* source = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
      ADD_FAILURE() << "bind " << source << ": " << std::strerror(errno);
    }
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(port);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
  }
  ~Raw() { close(); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  Raw(Raw&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  bool send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Whether the gateway ended the connection (EOF or reset) within `limit`;
  // what it sent before is dropped.
  bool ended_within(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
    }
  }
  // The response head (up to the blank line), within 5 s.
  std::string head() {
    std::string h;
    char c = 0;
    pollfd p{fd_, POLLIN, 0};
    while (h.find("\r\n\r\n") == std::string::npos && ::poll(&p, 1, 5000) == 1 &&
           ::recv(fd_, &c, 1, 0) == 1) {
      h += c;
    }
    return h;
  }
  // A WebSocket upgrade for the echo console; returns the response's status.
  int upgrade(const std::string& token, const std::string& forwarded_for = {}) {
    std::string request = "GET /websockify?token=" + token +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    if (!forwarded_for.empty()) request += "X-Forwarded-For: " + forwarded_for + "\r\n";
    request += "\r\n";
    if (!send(request)) return 0;
    return status(head());
  }
  // GET `target`; returns the status (the body is read and dropped).
  int get(const std::string& target) {
    if (!send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) return 0;
    const std::string h = head();
    const auto at = h.find("\r\nContent-Length: ");
    std::size_t length = at == std::string::npos ? 0 : std::stoul(h.substr(at + 18));
    char c = 0;
    pollfd p{fd_, POLLIN, 0};
    while (length > 0 && ::poll(&p, 1, 5000) == 1 && ::recv(fd_, &c, 1, 0) == 1) --length;
    return status(h);
  }
  static int status(const std::string& head) {
    if (head.size() < 12 || head.rfind("HTTP/1.1 ", 0) != 0) return 0;
    return std::stoi(head.substr(9, 3));
  }

 private:
  int fd_ = -1;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// That `client`'s console is closed with `expected` by the 1 s limit `limit`:
// between 0.9 and `at_most` seconds after `start`, counted in /metrics, and
// its console released.
void expect_closed_by_limit(InProcessGateway& gw, test::WsClient& client, Clock::time_point start,
                            const test::CloseFrame& expected, const std::string& limit,
                            double at_most) {
  const test::CloseFrame close = client.read_until_close();
  const double took = seconds_since(start);
  EXPECT_EQ(close.code, expected.code);
  EXPECT_EQ(close.reason, expected.reason);
  EXPECT_EQ(gw.metric("console_gw_limit_refusals_total{limit=\"" + limit + "\"}", 1), 1);
  EXPECT_GE(took, 0.9);
  EXPECT_LE(took, at_most);
  EXPECT_TRUE(gw.echo().wait_for_ended(1, 3s));
}

TEST(Limits, ASilentConnectionIsClosedAtTheHandshakeTimeout) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.handshake_timeout = 1s; });
  const auto start = Clock::now();
  Raw silent(gw.port());
  EXPECT_TRUE(silent.ended_within(4s)) << "still open after 4 s (the old limit was 10 s)";
  EXPECT_GE(seconds_since(start), 0.9);
  EXPECT_LE(seconds_since(start), 2.5);
}

TEST(Limits, ATricklingRequestIsClosedAtTheHandshakeTimeout) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.handshake_timeout = 1s; });
  const auto start = Clock::now();
  Raw slow(gw.port());
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaa";
  bool ended = false;
  for (char c : request) {
    if (!slow.send(std::string_view(&c, 1)) || slow.ended_within(200ms)) {
      ended = true;
      break;
    }
  }
  EXPECT_TRUE(ended) << "a byte every 200 ms kept the request open for " << seconds_since(start)
                     << " s";
  EXPECT_LE(seconds_since(start), 2.5);
}

TEST(Limits, AStalledTlsHandshakeIsClosedAtTheHandshakeTimeout) {
  test::Scratch certs;
  const auto [cert, key] = certs.tls_certificate("tls");
  InProcessGateway gw([&cert, &key](gateway::Config& c) {
    c.cert = cert;
    c.key = key;
    c.limits.handshake_timeout = 1s;
  });
  const auto start = Clock::now();
  Raw stalled(gw.port());
  // The start of a ClientHello (a TLS handshake record, 512 bytes announced),
  // then nothing: detection says TLS, and the handshake waits for the rest.
  ASSERT_TRUE(stalled.send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)));
  EXPECT_TRUE(stalled.ended_within(4s)) << "still open after 4 s (the old limits were 10 s each)";
  EXPECT_GE(seconds_since(start), 0.9);
  EXPECT_LE(seconds_since(start), 2.5);
}

TEST(Limits, TheHandshakeTimeoutRestartsAfterEachAnsweredRequest) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.handshake_timeout = 1s; });
  Raw keep_alive(gw.port());
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(600ms);  // within the limit of the previous answer
    EXPECT_EQ(keep_alive.get("/healthz"), 200) << i;
  }
}

TEST(Limits, AnOversizedRequestHeaderIsAnswered431) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.max_header_bytes = 4096; });
  Raw small(gw.port());
  EXPECT_TRUE(small.send(
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + std::string(3000, 'a') + "\r\n\r\n"));
  EXPECT_EQ(Raw::status(small.head()), 200);
  Raw big(gw.port());
  EXPECT_TRUE(big.send(
      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + std::string(5000, 'a') + "\r\n\r\n"));
  EXPECT_EQ(Raw::status(big.head()), 431);
  EXPECT_TRUE(big.ended_within(2s));
  EXPECT_EQ(gw.metric("console_gw_limit_refusals_total{limit=\"max_header_bytes\"}", 1), 1);
}

TEST(Limits, AnOversizedMessageIsClosedWith1009AndTheConsoleReleased) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.max_message_bytes = 64 * 1024; });
  auto client = gw.client();
  const std::string fits(64 * 1024, 'f');
  client->write(fits);
  EXPECT_EQ(client->read_exactly(fits.size()), fits);
  client->write(std::string(64 * 1024 + 1, 'x'));
  const test::CloseFrame close = client->read_until_close();
  EXPECT_EQ(close.code, 1009);
  EXPECT_EQ(close.reason, "message too big");
  EXPECT_TRUE(gw.echo().wait_for_ended(1, 3s));
  EXPECT_EQ(gw.metric("console_gw_limit_refusals_total{limit=\"max_message_bytes\"}", 1), 1);
}

TEST(Limits, MaxSessionsRefusesTheUpgradeWith503UntilOneCloses) {
  InProcessGateway gw([](gateway::Config& c) {
    c.limits.max_sessions = 2;
    c.limits.max_sessions_per_client = 0;
  });
  auto first = gw.client();
  auto second = gw.client();
  Raw third(gw.port());
  EXPECT_EQ(third.upgrade(gw.token()), 503);
  EXPECT_EQ(gw.metric("console_gw_limit_refusals_total{limit=\"max_sessions\"}", 1), 1);
  first->close();
  // The first one's ticket comes back when its session has ended.
  ASSERT_TRUE(gw.echo().wait_for_ended(1, 3s));
  int status = 0;
  const auto deadline = Clock::now() + 3s;
  while (status != 101 && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    Raw again(gw.port());
    status = again.upgrade(gw.token());
  }
  EXPECT_EQ(status, 101);
}

TEST(Limits, MaxSessionsPerClientRefusesWith429) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.max_sessions_per_client = 1; });
  auto first = gw.client();
  Raw same(gw.port());
  EXPECT_EQ(same.upgrade(gw.token()), 429);
  Raw other(gw.port(), "127.0.0.2");
  EXPECT_EQ(other.upgrade(gw.token()), 101);
}

TEST(Limits, BehindATrustedProxyTheForwardedClientIsCounted) {
  InProcessGateway gw([](gateway::Config& c) {
    c.trusted_proxies = {"127.0.0.1/32"};
    c.limits.max_sessions_per_client = 1;
  });
  Raw a(gw.port());
  EXPECT_EQ(a.upgrade(gw.token(), "192.0.2.1"), 101);
  Raw b(gw.port());
  EXPECT_EQ(b.upgrade(gw.token(), "192.0.2.2"), 101);
  Raw a_again(gw.port());
  EXPECT_EQ(a_again.upgrade(gw.token(), "192.0.2.1"), 429);
}

TEST(Limits, ConsoleRequestsBeyondTheRateAreAnswered429) {
  InProcessGateway gw([](gateway::Config& c) {
    c.limits.handshake_rate = 1;
    c.limits.handshake_burst = 3;
  });
  const std::string status_check = "/websockify?token=" + gw.token();
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(test::http_get(gw.port(), status_check).status);
  EXPECT_EQ(statuses, (std::vector<int>{426, 426, 426, 429}));
  EXPECT_EQ(gw.metric("console_gw_limit_refusals_total{limit=\"handshake_rate\"}", 1), 1);
  // Other files are not console requests; other clients have buckets of their own.
  EXPECT_EQ(test::http_get(gw.port(), "/healthz").status, 200);
  Raw other(gw.port(), "127.0.0.2");
  EXPECT_EQ(other.get(status_check), 426);
  // A second later there is a token again.
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(test::http_get(gw.port(), status_check).status, 426);
}

TEST(Limits, HandshakesPerPeerAreCappedAndOthersStillServed) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.max_handshakes_per_peer = 5; });
  std::vector<Raw> held;
  for (int i = 0; i < 5; ++i) held.emplace_back(gw.port(), "127.0.0.2");
  // All five accepted, and the request for /metrics itself.
  EXPECT_EQ(gw.metric("console_gw_handshakes_open", 6), 6);
  Raw sixth(gw.port(), "127.0.0.2");
  EXPECT_TRUE(sixth.ended_within(1s)) << "a sixth handshake from the same peer was kept";
  EXPECT_EQ(gw.metric("console_gw_limit_refusals_total{limit=\"max_handshakes_per_peer\"}", 1), 1);
  EXPECT_EQ(test::http_get(gw.port(), "/healthz").status, 200);
  // One gives its slot back; then the peer may start another.
  held.front().close();
  std::this_thread::sleep_for(200ms);
  Raw next(gw.port(), "127.0.0.2");
  EXPECT_FALSE(next.ended_within(300ms));
  EXPECT_EQ(next.get("/healthz"), 200);
}

TEST(Limits, SlowlorisNeitherStarvesRealSessionsNorOutlivesTheHandshakeTimeout) {
  constexpr int attackers = 500;
  InProcessGateway gw([](gateway::Config& c) {
    c.limits.handshake_timeout = 2s;
    c.limits.max_handshakes_per_peer = 0;  // all of them in their handshake
  });
  const auto start = Clock::now();
  std::vector<Raw> slow;
  slow.reserve(attackers);
  for (int i = 0; i < attackers; ++i) slow.emplace_back(gw.port(), "127.0.0.2");
  // A byte of a request every second on each, as a slowloris does.
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (std::size_t at = 0; !stop && at < request.size(); ++at) {
      for (Raw& r : slow) ::send(r.fd(), &request[at], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_for(500ms);
  // A real console opens and echoes at once meanwhile.
  const auto real_start = Clock::now();
  auto client = gw.client();
  client->write("hello");
  EXPECT_EQ(client->read_exactly(5), "hello");
  EXPECT_LT(seconds_since(real_start), 1.0);
  // Every slow one is closed at the handshake timeout: not before (they were
  // all accepted), not much after.
  int ended = 0;
  std::optional<double> first_end;
  for (Raw& r : slow) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(start + 4s - Clock::now());
    if (!r.ended_within(std::max(left, 1ms))) continue;
    ++ended;
    if (!first_end) first_end = seconds_since(start);
  }
  stop = true;
  trickle.join();
  EXPECT_EQ(ended, attackers);
  ASSERT_TRUE(first_end);
  EXPECT_GE(*first_end, 1.9);
  // The real console is still open.
  client->write("still");
  EXPECT_EQ(client->read_exactly(5), "still");
}

TEST(Limits, AnIdleConsoleIsClosedWith4408) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.idle_timeout = 1s; });
  auto client = gw.client();
  client->write("x");
  EXPECT_EQ(client->read_exactly(1), "x");
  const auto start = Clock::now();
  // 1.25 s at most, on a machine not busy.
  expect_closed_by_limit(gw, *client, start, {4408, "console idle for 1s"}, "idle_timeout", 3.0);
}

TEST(Limits, ABusyConsoleIsNotIdle) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.idle_timeout = 1s; });
  auto client = gw.client();
  for (int i = 0; i < 10; ++i) {  // two seconds of typing
    client->write("k");
    EXPECT_EQ(client->read_exactly(1), "k");
    std::this_thread::sleep_for(200ms);
  }
}

TEST(Limits, ASessionIsClosedWith4410AtItsMaximumLength) {
  InProcessGateway gw([](gateway::Config& c) { c.limits.max_session_length = 1s; });
  const auto start = Clock::now();
  auto client = gw.client();
  client->write("k");
  EXPECT_EQ(client->read_exactly(1), "k");
  // 1.25 s at most, on a machine not busy.
  expect_closed_by_limit(gw, *client, start, {4410, "session time limit (1s) reached"},
                         "max_session_length", 3.5);
}

TEST(Limits, ABrowserThatNeverAnswersPingsIsCutAndItsConsoleReleased) {
  InProcessGateway gw([](gateway::Config& c) { c.ping_interval = 1s; });
  Raw mute(gw.port());
  ASSERT_EQ(mute.upgrade(gw.token()), 101);
  const auto start = Clock::now();
  // It reads nothing and answers nothing: after two intervals it is cut.
  EXPECT_TRUE(gw.echo().wait_for_ended(1, 4s)) << "console still held";
  EXPECT_GE(seconds_since(start), 1.4);
  EXPECT_LE(seconds_since(start), 4.0);
}

}  // namespace
}  // namespace cgw
