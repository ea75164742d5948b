// The soak: sessions churning through the real console-gw binary for a while
// (CGW_SOAK_SECONDS, default 100; 60 under AddressSanitizer): several hundred at once, each opening
// a console (libvirt's test driver, an echo console of the test's own), echoing data through it,
// and closing, a new one in its place. The gateway's descriptors, threads and memory are sampled
// with nothing open after a warm-up and at the end: they must not grow (small stated tolerances).
//
// The browsers come from 128 loopback addresses (127.0.1.1-128), a few sessions
// at a time each, so that limits per client address do not refuse the churn.
// Under AddressSanitizer 64 sessions at once rather than 1,000, and memory is not
// compared (see kCompareMemory).
#include "tests/faults/gateway_process.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/echo_console.hpp"
#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace cgw {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_ADDRESS__)
// Slower by several times; and its quarantine holds freed memory on purpose
// (up to 256 MiB), so the gateway's RSS says nothing about leaks there (its
// leak check at exit does, and stop() sees its status).
constexpr unsigned kConcurrent = 64;
constexpr auto kDefaultDuration = 60s;
constexpr bool kCompareMemory = false;
#else
constexpr unsigned kConcurrent = 1000;
constexpr auto kDefaultDuration = 100s;
constexpr bool kCompareMemory = true;
#endif
constexpr unsigned kSourceAddresses = 128;
constexpr unsigned kRoundTrips = 10;         // per session
constexpr std::size_t kMessageBytes = 2048;  // per round trip
constexpr auto kPauseBetweenTrips = 100ms;   // a session lasts about 1 s
constexpr std::size_t kWarmUpSessions = 1000;

std::chrono::seconds soak_duration() {
  if (const char* s = std::getenv("CGW_SOAK_SECONDS")) return std::chrono::seconds(std::atoi(s));
  return kDefaultDuration;
}

// An echo console on asio (EchoConsole has a thread per connection; hundreds
// of sessions at once want coroutines).
class AsyncEcho {
 public:
  AsyncEcho() : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
    net::co_spawn(ioc_, accept(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~AsyncEcho() {
    ioc_.stop();
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  net::awaitable<void> accept() {
    for (;;) {
      auto socket =
          std::make_shared<tcp::socket>(co_await acceptor_.async_accept(net::use_awaitable));
      net::co_spawn(ioc_, echo(socket), net::detached);
    }
  }
  static net::awaitable<void> echo(std::shared_ptr<tcp::socket> socket) {
    std::vector<char> buf(16 * 1024);
    for (;;) {
      beast::error_code ec;
      const std::size_t n = co_await socket->async_read_some(
          net::buffer(buf), net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
      co_await net::async_write(*socket, net::buffer(buf.data(), n),
                                net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

struct Churn {
  Churn(const test::GatewayProcess& g, net::io_context& i, Clock::time_point u, std::size_t n)
      : gw(g), ioc(i), until(u), at_least(n) {}
  const test::GatewayProcess& gw;
  net::io_context& ioc;
  Clock::time_point until;
  std::size_t at_least = 0;  // sessions, whatever the time
  std::atomic<std::size_t> done{0};
  std::atomic<std::size_t> failed{0};
  std::atomic<std::uint64_t> bytes{0};
  std::string first_failure;
};

// One session: connect from `source`, the upgrade, round trips, the close.
net::awaitable<void> one_session(Churn& churn, const net::ip::address_v4& source) {
  const std::string target = churn.gw.target("fake", test::kEchoUuid);
  tcp::socket socket(churn.ioc);
  socket.open(tcp::v4());
  socket.bind(tcp::endpoint(source, 0));
  co_await socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), churn.gw.port()),
                                net::use_awaitable);
  websocket::stream<beast::tcp_stream> ws(std::move(socket));
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = 15s;
  timeouts.idle_timeout = 15s;
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.binary(true);
  co_await ws.async_handshake("127.0.0.1", target, net::use_awaitable);
  std::string payload(kMessageBytes, 'x');
  net::steady_timer pause(churn.ioc);
  beast::flat_buffer buffer;
  for (unsigned trip = 0; trip < kRoundTrips; ++trip) {
    payload[0] = static_cast<char>('a' + trip);
    co_await ws.async_write(net::buffer(payload), net::use_awaitable);
    std::string echoed;
    while (echoed.size() < payload.size()) {
      buffer.clear();
      co_await ws.async_read(buffer, net::use_awaitable);
      echoed += beast::buffers_to_string(buffer.data());
    }
    if (echoed != payload) throw std::runtime_error("the echo differs");
    churn.bytes += echoed.size();
    pause.expires_after(kPauseBetweenTrips);
    co_await pause.async_wait(net::use_awaitable);
  }
  co_await ws.async_close(websocket::close_code::normal, net::use_awaitable);
}

// Sessions one after another until the churn's time is up.
net::awaitable<void> worker(Churn& churn, unsigned index) {
  const net::ip::address_v4 source(0x7f000100u + 1 + index % kSourceAddresses);
  while (Clock::now() < churn.until || churn.done < churn.at_least) {
    try {
      co_await one_session(churn, source);
      ++churn.done;
    } catch (const std::exception& e) {
      if (churn.failed++ == 0) churn.first_failure = e.what();
    }
  }
}

// Runs the churn to its end; returns when every worker has finished its last session.
void churn_for(Churn& churn) {
  churn.ioc.restart();
  for (unsigned i = 0; i < kConcurrent; ++i) {
    net::co_spawn(churn.ioc, worker(churn, i), net::detached);
  }
  churn.ioc.run();
}

// A sample with no session open, once the gateway has settled.
test::ProcessSample quiet_sample(const test::GatewayProcess& gw) {
  EXPECT_TRUE(gw.none_active_within(10s));
  std::this_thread::sleep_for(500ms);
  const auto s = gw.sample();
  EXPECT_TRUE(s);
  return s.value_or(test::ProcessSample{});
}

TEST(Soak, SessionsChurningLeaveNoGrowth) {
  test::Scratch scratch;
  AsyncEcho echo;
  test::ClosedPort closed;
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(echo.port(), closed.port()));
  test::GatewayProcess gw(
      scratch, "", "[hosts.fake]\nuri = \"test://" + node + "\"\nvnc_security = \"passthrough\"\n");
  const auto duration = soak_duration();
  const auto started = Clock::now();
  const auto at_start = gw.sample();
  ASSERT_TRUE(at_start);

  net::io_context ioc(1);
  // Warm-up: a fifth of the time, and at least 1,000 sessions.
  Churn warm(gw, ioc, Clock::now() + duration / 5, kWarmUpSessions);
  churn_for(warm);
  const test::ProcessSample warmed = quiet_sample(gw);

  Churn soak(gw, ioc, started + duration, kWarmUpSessions);
  churn_for(soak);
  const test::ProcessSample end = quiet_sample(gw);
  const auto took = std::chrono::duration<double>(Clock::now() - started).count();

  std::cout << "soak: " << warm.done + soak.done << " sessions (" << kConcurrent << " at once) in "
            << took << " s, " << (warm.bytes + soak.bytes) / (1 << 20) << " MiB echoed; failed "
            << warm.failed + soak.failed << "\n"
            << "  start:   fds " << at_start->fds << " threads " << at_start->threads << " rss "
            << at_start->rss_kib << " KiB\n"
            << "  warm-up: fds " << warmed.fds << " threads " << warmed.threads << " rss "
            << warmed.rss_kib << " KiB\n"
            << "  end:     fds " << end.fds << " threads " << end.threads << " rss " << end.rss_kib
            << " KiB\n";
  RecordProperty("sessions", std::to_string(warm.done + soak.done));
  RecordProperty("rss_growth_kib", std::to_string(end.rss_kib - warmed.rss_kib));

  EXPECT_EQ(warm.failed + soak.failed, 0u)
      << "first failure: " << warm.first_failure << soak.first_failure;
  EXPECT_GE(warm.done, kWarmUpSessions);
  EXPECT_GE(soak.done, kWarmUpSessions);
  // No growth after the warm-up: descriptors exactly back (a little slack for
  // a libvirt or log descriptor in passing), threads the same, memory within
  // 8 MiB (the allocator's arenas settle; 1 KiB lost per session would be
  // more than that after the default run's sessions).
  EXPECT_LE(end.fds, warmed.fds + 2);
  EXPECT_LE(end.threads, warmed.threads);
  if (kCompareMemory) {
    EXPECT_LE(end.rss_kib, warmed.rss_kib + 8 * 1024);
  }
  EXPECT_TRUE(gw.stop());
}

}  // namespace
}  // namespace cgw
