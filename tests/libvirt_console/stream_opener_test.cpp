// libvirt_console::StreamOpener and ConsoleStream against the real libvirtd and
// a real QEMU whose SeaBIOS writes to its serial port: what the opener answers
// for each failure a host or token can cause, that a stream's end frees the
// console for the next client, and that a force open tells the old stream why.
#include "libvirt_console/stream_opener.hpp"
#include "tests/support/domains.hpp"
#include "tunnel/console_opener.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <unistd.h>

namespace cgw::libvirt_console {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Failure = tunnel::ConnectResult::Failure;

test::TestDomain& bios_on_serial() {
  static test::TestDomain d("cgw-it-lvc-" + std::to_string(getpid()), [] {
    test::DomainSpec spec;
    spec.os = "<bios useserial='yes' rebootTimeout='1000'/>";
    spec.devices = "<serial type='pty'/><console type='pty'/>";
    return spec;
  }());
  return d;
}

class StreamOpenerTest : public ::testing::Test {
 protected:
  StreamOpenerTest() : opener_(StreamOpenerOptions{}) {}

  // Runs `body` as a coroutine on this test's io_context until it completes.
  template <class Body>
  auto run(Body body) {
    auto done = net::co_spawn(ioc_, std::move(body), net::use_future);
    ioc_.restart();
    ioc_.run();
    return done.get();
  }

  tunnel::ConnectResult open(const std::string& uri, const std::string& uuid,
                             std::string device = {}, bool force = false) {
    return run([&]() -> net::awaitable<tunnel::ConnectResult> {
      tunnel::HostRoute route;
      route.id = "local";
      route.uri = uri;
      const tunnel::ConsolePath path;
      tunnel::ConsoleSpec spec{route, uuid, ConsoleKind::serial, path, device, force};
      co_return co_await opener_.open(spec);
    });
  }

  // Reads until `text` came (true), the stream ended, or 30 s passed.
  bool read_until(stream::ByteStream& console, const std::string& text) {
    return run([&]() -> net::awaitable<bool> {
      std::string seen;
      char buf[4096];
      const auto deadline = std::chrono::steady_clock::now() + 30s;
      while (std::chrono::steady_clock::now() < deadline) {
        auto [ec, n] = co_await console.read_some(net::buffer(buf));
        if (ec) co_return false;
        seen.append(buf, n);
        if (seen.find(text) != std::string::npos) co_return true;
      }
      co_return false;
    });
  }

  stream::error_code read_error(stream::ByteStream& console) {
    return run([&]() -> net::awaitable<stream::error_code> {
      char buf[4096];
      for (;;) {
        auto [ec, n] = co_await console.read_some(net::buffer(buf));
        if (ec) co_return ec;
      }
    });
  }

  net::io_context ioc_;
  StreamOpener opener_;
};

TEST_F(StreamOpenerTest, ReadsSeaBiosAndItsEndFreesTheConsole) {
  auto first = open("qemu:///system", bios_on_serial().uuid());
  ASSERT_TRUE(first) << first.reason;
  EXPECT_TRUE(read_until(*first.stream, "SeaBIOS"));
  first.stream->abort();
  first.stream.reset();
  // The abort runs on the opener's threads: the console is free a moment later.
  tunnel::ConnectResult again;
  for (int attempt = 0; attempt < 20 && !again; ++attempt) {
    again = open("qemu:///system", bios_on_serial().uuid(), "serial0");
    if (!again) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(again) << again.reason;
  EXPECT_TRUE(read_until(*again.stream, "SeaBIOS"));
}

TEST_F(StreamOpenerTest, HeldIsBusyAndForceTakesItOver) {
  auto first = open("qemu:///system", bios_on_serial().uuid());
  ASSERT_TRUE(first) << first.reason;
  ASSERT_TRUE(read_until(*first.stream, "SeaBIOS"));
  const auto busy = open("qemu:///system", bios_on_serial().uuid());
  EXPECT_FALSE(busy);
  EXPECT_EQ(busy.failure, Failure::console_busy);
  EXPECT_NE(busy.reason.find("Active console session exists"), std::string::npos) << busy.reason;

  auto forced = open("qemu:///system", bios_on_serial().uuid(), {}, true);
  ASSERT_TRUE(forced) << forced.reason;
  EXPECT_TRUE(read_until(*forced.stream, "SeaBIOS"));
  EXPECT_TRUE(read_error(*first.stream));
  EXPECT_FALSE(first.stream->is_open());
  const auto why = first.stream->ending();
  ASSERT_TRUE(why);
  EXPECT_EQ(why->code, 4411);
  EXPECT_EQ(why->text, "console taken over by another client");
  EXPECT_FALSE(forced.stream->ending());
}

TEST_F(StreamOpenerTest, FailuresSayWhatFailed) {
  const auto no_device = open("qemu:///system", bios_on_serial().uuid(), "serial7");
  EXPECT_EQ(no_device.failure, Failure::no_console) << no_device.reason;
  const auto no_domain = open("qemu:///system", "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(no_domain.failure, Failure::no_console);
  EXPECT_EQ(no_domain.reason, "domain not found");
  const auto no_libvirt =
      open("qemu+unix:///system?socket=/nonexistent/libvirt-sock", bios_on_serial().uuid());
  EXPECT_EQ(no_libvirt.failure, Failure::hypervisor_unreachable);
  EXPECT_NE(no_libvirt.reason.find("hypervisor unreachable"), std::string::npos)
      << no_libvirt.reason;
}

}  // namespace
}  // namespace cgw::libvirt_console
