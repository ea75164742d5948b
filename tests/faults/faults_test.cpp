// Faults the gateway must survive, against the real console-gw binary whose
// hosts are libvirt's test driver (in-process, no libvirtd) with consoles of
// the test's own: a console port that refuses, names that do not resolve, a
// libvirt that accepts and never answers, a browser that vanishes without a FIN
// (in a network namespace whose link goes down), and a console that stops
// reading while browsers upload. Each checks the code the browser gets, the
// one log line, and that nothing is held afterwards.
#include "tests/faults/gateway_process.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/echo_console.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The log's lines that contain every one of `words`.
std::vector<std::string> lines_with(const std::string& log, const std::vector<std::string>& words) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (std::all_of(words.begin(), words.end(),
                    [&line](const std::string& w) { return line.find(w) != std::string::npos; })) {
      out.push_back(line);
    }
  }
  return out;
}

std::string test_host(const std::string& id, const std::string& node_file,
                      const std::string& extra = {}) {
  return "[hosts." + id + "]\nuri = \"test://" + node_file +
         "\"\nvnc_security = \"passthrough\"\n" + extra + "\n";
}

std::unique_ptr<test::WsClient> open_console(const test::GatewayProcess& gw,
                                             const std::string& host, const std::string& uuid,
                                             const std::string& address = "127.0.0.1") {
  test::WsOptions o;
  o.host = address;
  o.port = gw.port();
  o.target = gw.target(host, uuid);
  return gw.inside([&o] { return test::WsClient::connect(o); });
}

// One session to a test-driver console: the browser's close code and reason,
// how long it took, and the gateway's log lines about that refusal.
struct Refusal {
  test::CloseFrame close;
  Clock::duration took{};
};
Refusal refusal_of(const test::GatewayProcess& gw, const std::string& host,
                   const std::string& uuid) {
  const auto start = Clock::now();
  auto client = open_console(gw, host, uuid);
  Refusal r;
  r.close = client->read_until_close();
  r.took = Clock::now() - start;
  return r;
}

// A console that refuses connections (a bound port that never listens): 4504,
// and one log line that says so.
TEST(Faults, ConsolePortRefusing) {
  test::Scratch scratch;
  test::EchoConsole echo;
  test::ClosedPort closed;
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(echo.port(), closed.port()));
  test::GatewayProcess gw(scratch, "connect_timeout = \"3s\"", test_host("fake", node));
  const Refusal r = refusal_of(gw, "fake", test::kClosedUuid);
  EXPECT_EQ(r.close.code, 4504);
  EXPECT_EQ(r.close.reason, "console unreachable");
  EXPECT_LT(r.took, 3s);  // refused at once, not at connect_timeout
  std::this_thread::sleep_for(200ms);
  const std::string log = gw.log();
  EXPECT_EQ(lines_with(log, {"outcome=refused"}).size(), 1u) << log;
  EXPECT_EQ(lines_with(log, {"outcome=refused", "code=4504"}).size(), 1u) << log;
  EXPECT_TRUE(gw.none_active_within(2s));
  EXPECT_TRUE(gw.stop());
}

// A hypervisor whose name does not resolve (.invalid never does, RFC 6761):
// 4502 at once, one log line naming the host. The gateway runs in a network
// namespace of its own whose resolver is 127.0.0.1 there: no query leaves it.
TEST(Faults, HypervisorNameNotResolving) {
  test::Scratch scratch;
  test::GatewayProcess gw(scratch, "libvirt_timeout = \"5s\"",
                          "[hosts.far]\nuri = \"qemu+tcp://nosuch.invalid/system\"\n", "127.0.0.1",
                          test::GatewayProcess::Network::alone);
  const Refusal r = refusal_of(gw, "far", test::kEchoUuid);
  EXPECT_EQ(r.close.code, 4502);
  EXPECT_EQ(r.close.reason, "hypervisor unreachable");
  EXPECT_LT(r.took, 5s);
  std::this_thread::sleep_for(200ms);
  const std::string log = gw.log();
  EXPECT_EQ(lines_with(log, {"outcome=refused"}).size(), 1u) << log;
  EXPECT_EQ(lines_with(log, {"outcome=refused", "code=4502", "nosuch.invalid"}).size(), 1u) << log;
  EXPECT_TRUE(gw.stop());
}

// A console on 0.0.0.0, reached at the host's `address`, a name that does not
// resolve: 4504, one log line naming it.
TEST(Faults, ConsoleAddressNotResolving) {
  test::Scratch scratch;
  const std::string node = scratch.write(
      "node.xml",
      std::string("<node><domain type='test'><name>wild</name><uuid>") + test::kEchoUuid +
          "</uuid><memory>65536</memory><os><type>hvm</type></os><devices>"
          "<graphics type='vnc' port='5999' listen='0.0.0.0'/></devices></domain></node>");
  test::GatewayProcess gw(scratch, "connect_timeout = \"3s\"",
                          test_host("wild", node, "address = \"nosuch.invalid\""), "127.0.0.1",
                          test::GatewayProcess::Network::alone);
  const Refusal r = refusal_of(gw, "wild", test::kEchoUuid);
  EXPECT_EQ(r.close.code, 4504);
  EXPECT_EQ(r.close.reason, "console unreachable");
  std::this_thread::sleep_for(200ms);
  const std::string log = gw.log();
  EXPECT_EQ(lines_with(log, {"outcome=refused"}).size(), 1u) << log;
  EXPECT_EQ(lines_with(log, {"outcome=refused", "code=4504", "nosuch.invalid"}).size(), 1u) << log;
  EXPECT_TRUE(gw.stop());
}

// A listening socket (owned from construction) whose connections a thread of
// its own accepts and holds, never reading or writing, until close().
class HoldingListener {
 public:
  explicit HoldingListener(int fd) : fd_(fd) {
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) != 1) continue;
        const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        const std::lock_guard lock(mutex_);
        accepted_.push_back(c);
      }
    });
  }
  ~HoldingListener() { close(); }
  HoldingListener(const HoldingListener&) = delete;
  HoldingListener& operator=(const HoldingListener&) = delete;
  void close() {
    if (stop_.exchange(true)) return;
    thread_.join();
    for (int c : accepted_) ::close(c);
    ::close(fd_);
  }
  std::size_t accepted() {
    const std::lock_guard lock(mutex_);
    return accepted_.size();
  }

 protected:
  const int fd_;
  std::mutex mutex_;
  std::vector<int> accepted_;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A UNIX socket listening at `path`.
int unix_listener(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  path.copy(a.sun_path, sizeof a.sun_path - 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 8) != 0) {
    ADD_FAILURE() << "silent libvirt: " << std::strerror(errno);
  }
  return fd;
}

// A UNIX socket that accepts and never answers: libvirt's client waits forever
// for the reply to its first call. Closing the listener ends those waits.
class SilentLibvirt : public HoldingListener {
 public:
  explicit SilentLibvirt(const std::string& path) : HoldingListener(unix_listener(path)) {}
};

// libvirt hangs: the lookup's time limit (libvirt_timeout = 1s) answers with
// 4502 "hypervisor timed out" while consoles of other hosts open and flow, and
// the gateway still stops when asked.
TEST(Faults, LibvirtHangingAnswersWithItsTimeLimit) {
  test::Scratch scratch;
  test::EchoConsole echo;
  test::ClosedPort closed;
  const std::string socket = scratch.path("silent-libvirt.sock");
  SilentLibvirt silent(socket);
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(echo.port(), closed.port()));
  test::GatewayProcess gw(scratch, "libvirt_timeout = \"1s\"",
                          test_host("fake", node) +
                              "[hosts.hung]\nuri = \"qemu+unix:///system?socket=" + socket +
                              "\"\nvnc_security = \"passthrough\"\n");
  auto before = open_console(gw, "fake", test::kEchoUuid);
  before->write("a");
  ASSERT_EQ(before->read_exactly(1), "a");

  auto hung =
      std::async(std::launch::async, [&] { return refusal_of(gw, "hung", test::kEchoUuid); });
  // While that waits for libvirt: the open console flows, and a new one opens.
  std::this_thread::sleep_for(300ms);
  const auto during = Clock::now();
  before->write("bc");
  EXPECT_EQ(before->read_exactly(2), "bc");
  auto fresh = open_console(gw, "fake", test::kEchoUuid);
  fresh->write("d");
  EXPECT_EQ(fresh->read_exactly(1), "d");
  EXPECT_LT(Clock::now() - during, 500ms);

  const Refusal r = hung.get();
  EXPECT_EQ(r.close.code, 4502);
  EXPECT_EQ(r.close.reason, "hypervisor timed out");
  EXPECT_GE(r.took, 900ms);
  EXPECT_LT(r.took, 2500ms);
  EXPECT_GE(silent.accepted(), 1u);
  std::this_thread::sleep_for(200ms);
  const std::string log = gw.log();
  EXPECT_EQ(lines_with(log, {"outcome=refused"}).size(), 1u) << log;
  EXPECT_EQ(lines_with(log, {"outcome=refused", "code=4502", "hung"}).size(), 1u) << log;
  // A stop does not wait on the call still blocked in libvirt for longer than
  // its time limit: the gateway exits (status 0), and says so in one line.
  before->close();
  fresh->close();
  const auto stopping = Clock::now();
  EXPECT_TRUE(gw.stop(5s));
  EXPECT_LT(Clock::now() - stopping, 3s);
  EXPECT_EQ(lines_with(gw.log(), {"host=hung", "still blocked"}).size(), 1u) << gw.log();
  silent.close();
}

// ---------------------------------------------------------------------------
// A browser in a network namespace of the test's own, behind a veth pair whose
// far end then goes down: no FIN, no RST, the packets just stop.

void sh(const std::string& command) { test::run(command); }

class BrowserNamespace {
 public:
  BrowserNamespace() {
    const int n = static_cast<int>(::getpid() % 200) + 20;
    name_ = "cgwf" + std::to_string(::getpid());
    host_if_ = "cgwh" + std::to_string(::getpid() % 100000);
    ns_if_ = "cgwn" + std::to_string(::getpid() % 100000);
    gateway_address_ = "10.213." + std::to_string(n) + ".1";
    browser_address_ = "10.213." + std::to_string(n) + ".2";
    sh("ip netns add " + name_);
    sh("ip link add " + host_if_ + " type veth peer name " + ns_if_ + " netns " + name_);
    sh("ip addr add " + gateway_address_ + "/24 dev " + host_if_);
    sh("ip link set " + host_if_ + " up");
    sh("ip -n " + name_ + " addr add " + browser_address_ + "/24 dev " + ns_if_);
    sh("ip -n " + name_ + " link set " + ns_if_ + " up");
    sh("ip -n " + name_ + " link set lo up");
  }
  ~BrowserNamespace() {
    ::system(("ip link del " + host_if_ + " 2>/dev/null").c_str());
    ::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
  }
  const std::string& gateway_address() const { return gateway_address_; }
  // Runs `f` on a thread inside the namespace: the sockets it makes belong to it.
  template <class F>
  auto inside(F f) {
    return std::async(std::launch::async,
                      [this, f] {
                        const int fd =
                            ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
                        if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
                          throw std::runtime_error("setns " + name_ + ": " + std::strerror(errno));
                        }
                        ::close(fd);
                        return f();
                      })
        .get();
  }
  // The browser's link goes down: its packets stop, nothing is sent to say so.
  void cut() { sh("ip -n " + name_ + " link set " + ns_if_ + " down"); }

 private:
  std::string name_, host_if_, ns_if_, gateway_address_, browser_address_;
};

TEST(Faults, BrowserVanishingWithoutFinIsFoundByTheHeartbeat) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for network namespaces";
  BrowserNamespace ns;
  test::Scratch scratch;
  test::EchoConsole echo;
  test::ClosedPort closed;
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(echo.port(), closed.port()));
  // 0.0.0.0: the browser comes from the namespace, /metrics is read on loopback.
  test::GatewayProcess gw(scratch, "ping_interval = \"1s\"\nwrite_timeout = \"30s\"",
                          test_host("fake", node), "0.0.0.0");
  ASSERT_EQ(gw.warm_up("fake", test::kEchoUuid), 426);
  const auto before = gw.sample();
  ASSERT_TRUE(before);
  auto browser =
      ns.inside([&] { return open_console(gw, "fake", test::kEchoUuid, ns.gateway_address()); });
  browser->write("hello");
  ASSERT_EQ(browser->read_exactly(5), "hello");
  ASSERT_EQ(gw.active(), 1);

  ns.cut();
  const auto cut_at = Clock::now();
  // The heartbeat gives up after two intervals without a frame: about 2-2.5 s.
  ASSERT_TRUE(echo.wait_for_ended(1, 6s)) << "the console was not released";
  const auto released = Clock::now() - cut_at;
  EXPECT_GE(released, 1500ms);
  EXPECT_LT(released, 3500ms);
  EXPECT_TRUE(gw.none_active_within(1s));
  // Both of the session's descriptors are gone.
  EXPECT_TRUE(gw.fds_at_most_within(before->fds, 2s));
  EXPECT_EQ(lines_with(gw.log(), {"outcome=ended"}).size(), 1u) << gw.log();
  EXPECT_TRUE(gw.stop());
}

// ---------------------------------------------------------------------------
// A console that accepts and never reads, while browsers upload as fast as the
// gateway takes it: backpressure holds (the gateway's memory grows by little
// more than its socket buffers), and each session ends at write_timeout.

// A TCP socket listening on 127.0.0.1, on a port of its own.
int tcp_listener() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
    ADD_FAILURE() << "deaf console: " << std::strerror(errno);
  }
  return fd;
}

// A console that accepts and never reads.
class DeafConsole : public HoldingListener {
 public:
  DeafConsole() : HoldingListener(tcp_listener()) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "deaf console: " << std::strerror(errno);
    }
    port_ = ntohs(a.sin_port);
  }
  std::uint16_t port() const { return port_; }
  // How many of its connections the gateway has closed: each is read (and
  // what it holds dropped) until it ends, for at most `limit` in all.
  std::size_t closed_by_gateway(std::chrono::milliseconds limit) {
    const std::lock_guard lock(mutex_);
    const auto deadline = Clock::now() + limit;
    std::size_t n = 0;
    char buf[64 * 1024];
    for (int c : accepted_) {
      while (Clock::now() < deadline) {
        pollfd p{c, POLLIN, 0};
        if (::poll(&p, 1, 100) != 1) continue;
        const ssize_t got = ::recv(c, buf, sizeof buf, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN)) {
          ++n;
          break;
        }
      }
    }
    return n;
  }

 private:
  std::uint16_t port_ = 0;
};

// A browser of raw system calls that uploads masked binary frames without
// blocking until `offer` bytes were taken or the gateway ends the connection.
// Returns the bytes taken.
std::size_t upload(std::uint16_t port, const std::string& target, std::size_t offer,
                   std::chrono::milliseconds limit) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  const std::string request = "GET " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string head;
  char c = 0;
  while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
  EXPECT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string frame = {'\x82', '\xfe', '\x40', '\x00', 0, 0, 0, 0};
  frame.append(16 * 1024, 'u');
  std::size_t taken = 0;
  std::size_t offset = 0;
  const auto deadline = Clock::now() + limit;
  while (taken < offer && Clock::now() < deadline) {
    const ssize_t n = ::send(fd, frame.data() + offset, frame.size() - offset, MSG_NOSIGNAL);
    if (n > 0) {
      taken += static_cast<std::size_t>(n);
      offset = (offset + static_cast<std::size_t>(n)) % frame.size();
      continue;
    }
    if (n < 0 && errno != EAGAIN) break;  // the gateway ended it
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
  ::close(fd);
  return taken;
}

TEST(Faults, ConsoleThatStopsReadingKeepsMemoryBounded) {
  test::Scratch scratch;
  DeafConsole console;
  test::ClosedPort closed;
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(console.port(), closed.port()));
  test::GatewayProcess gw(scratch, "write_timeout = \"2s\"", test_host("fake", node));
  ASSERT_EQ(gw.warm_up("fake", test::kEchoUuid), 426);
  const auto before = gw.sample();
  ASSERT_TRUE(before);
  // Four browsers, 25 MiB offered each: 100 MiB in all.
  constexpr int browsers = 4;
  constexpr std::size_t offer = 25u << 20;
  std::atomic<int> done{0};
  std::vector<std::future<std::size_t>> uploads;
  const auto started = Clock::now();
  for (int i = 0; i < browsers; ++i) {
    uploads.push_back(std::async(std::launch::async, [&] {
      const std::size_t n = upload(gw.port(), gw.target("fake", test::kEchoUuid), offer, 20s);
      ++done;
      return n;
    }));
  }
  long peak_kib = before->rss_kib;
  while (done < browsers) {
    if (const auto s = gw.sample()) peak_kib = std::max(peak_kib, s->rss_kib);
    std::this_thread::sleep_for(20ms);
  }
  const auto ended_after = Clock::now() - started;
  std::size_t taken = 0;
  for (auto& u : uploads) taken += u.get();
  // Each upload ends by the time the gateway has ended its session: at
  // write_timeout (between 2 and 3 s after the console's write stalled), then
  // the close handshake reads and drops what the browser still sends, for at
  // most 5 s.
  EXPECT_LT(ended_after, 12s);
  const long growth_kib = peak_kib - before->rss_kib;
  RecordProperty("rss_growth_kib", std::to_string(growth_kib));
  RecordProperty("bytes_taken", std::to_string(taken));
  EXPECT_LT(growth_kib, 16 * 1024) << "RSS grew by " << growth_kib << " KiB";
  EXPECT_TRUE(gw.none_active_within(5s));
  const std::string log = gw.log();
  const auto ended = lines_with(log, {"outcome=ended", "by=console", "peer stopped reading"});
  EXPECT_EQ(ended.size(), static_cast<std::size_t>(browsers)) << log;
  // What reached the console is what the socket buffers on the way hold.
  for (const std::string& line : ended) {
    const auto at = line.find("to_console=");
    ASSERT_NE(at, std::string::npos);
    EXPECT_LT(std::stoull(line.substr(at + 11)), 16ull << 20) << line;
  }
  // The gateway has let go of both sockets of every session.
  EXPECT_EQ(console.closed_by_gateway(5s), static_cast<std::size_t>(browsers));
  EXPECT_TRUE(gw.fds_at_most_within(before->fds, 2s));
  EXPECT_TRUE(gw.stop());
}

}  // namespace
}  // namespace cgw
