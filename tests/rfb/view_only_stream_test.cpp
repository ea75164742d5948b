// ViewOnlyStream over a real console connection: a loopback TCP socket in a
// SocketStream, whose far end (the "VNC server") the test reads and writes.
// Also a whole pump, browser socket to view-only console, with a recorded
// noVNC stream.
#include <gtest/gtest.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rfb/view_only_stream.hpp"
#include "stream/pump.hpp"
#include "stream/socket_stream.hpp"

namespace cgw::rfb {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using Buffer = std::vector<std::uint8_t>;
using TcpStream = stream::SocketStream<tcp::socket>;

Buffer read_recording(const std::string& name) {
  std::ifstream in(std::string(CGW_RFB_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  return Buffer(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The recordings' messages without input, as InputFilter's own tests check them
// with an independent parser: here only the sizes and types matter.
Buffer without_input(const Buffer& stream) {
  Buffer out{1};
  std::size_t at = 1;
  while (at < stream.size()) {
    const std::uint8_t type = stream[at];
    std::size_t size = 0;
    bool input = false;
    switch (type) {
      case 0:
        size = 20;
        break;
      case 2:
        size = 4 + 4 * (stream[at + 2] << 8 | stream[at + 3]);
        break;
      case 3:
      case 150:
        size = 10;
        break;
      case 4:
        size = 8;
        input = true;
        break;
      case 5:
        size = 6;
        input = true;
        break;
      case 6: {
        const std::int32_t length = static_cast<std::int32_t>(
            std::uint32_t{stream[at + 4]} << 24 | std::uint32_t{stream[at + 5]} << 16 |
            std::uint32_t{stream[at + 6]} << 8 | stream[at + 7]);
        size =
            8 + static_cast<std::size_t>(length < 0 ? -static_cast<std::int64_t>(length) : length);
        input = true;
        break;
      }
      case 248:
        size = 9 + stream[at + 8];
        break;
      case 251:
        size = 8 + 16 * stream[at + 6];
        input = true;
        break;
      case 255:
        size = 12;
        input = true;
        break;  // noVNC sends only extended key events
      default:
        ADD_FAILURE() << "type " << int{type};
        return out;
    }
    if (!input)
      out.insert(out.end(), stream.begin() + static_cast<std::ptrdiff_t>(at),
                 stream.begin() + static_cast<std::ptrdiff_t>(at + size));
    at += size;
  }
  return out;
}

// A view-only stream around one end of a loopback TCP connection; the other
// end is the server's. Coroutines run on the test's thread, one at a time.
class ViewOnlyRig {
 public:
  ViewOnlyRig() {
    tcp::acceptor acceptor(ioc_, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    tcp::socket client(ioc_);
    client.connect(acceptor.local_endpoint());
    server_ = acceptor.accept();
    client.set_option(tcp::no_delay(true));
    stream_ = std::make_unique<ViewOnlyStream>(std::make_unique<TcpStream>(std::move(client)));
  }

  template <class T>
  T run(net::awaitable<T> work) {
    auto future = net::co_spawn(ioc_, std::move(work), net::use_future);
    ioc_.restart();
    ioc_.run();
    return future.get();
  }

  stream::error_code write(const Buffer& bytes) { return run(stream_->write(net::buffer(bytes))); }

  // What the server received, once `size` bytes have come (or 5 s passed).
  Buffer server_reads(std::size_t size) {
    Buffer out(size);
    server_.non_blocking(false);
    stream::error_code ec;
    net::read(server_, net::buffer(out), ec);
    EXPECT_FALSE(ec) << ec.message();
    return out;
  }

  // Nothing more is waiting at the server.
  bool server_has_nothing() {
    std::this_thread::sleep_for(50ms);
    return server_.available() == 0;
  }

  net::io_context ioc_;
  tcp::socket server_{ioc_};
  std::unique_ptr<ViewOnlyStream> stream_;
};

TEST(ViewOnlyStream, RecordedSessionReachesTheServerWithoutInput) {
  for (const char* name : {"novnc-xvnc.bin", "novnc-xvnc-plain.bin", "novnc-qemu.bin"}) {
    ViewOnlyRig rig;
    const Buffer recording = read_recording(name);
    const Buffer expected = without_input(recording);
    std::mt19937 gen(1);
    std::uniform_int_distribution<std::size_t> step(1, 300);
    for (std::size_t at = 0; at < recording.size();) {
      const std::size_t n = std::min(step(gen), recording.size() - at);
      const Buffer chunk(recording.begin() + static_cast<std::ptrdiff_t>(at),
                         recording.begin() + static_cast<std::ptrdiff_t>(at + n));
      ASSERT_FALSE(rig.write(chunk)) << name;
      at += n;
    }
    EXPECT_EQ(rig.server_reads(expected.size()), expected) << name;
    EXPECT_TRUE(rig.server_has_nothing()) << name;
    EXPECT_EQ(rig.stream_->last_error_text(), "");
    EXPECT_GT(rig.stream_->counters().dropped, 50u);
  }
}

TEST(ViewOnlyStream, ViolationEndsWithItsCodeAndSentence) {
  ViewOnlyRig rig;
  const Buffer first{1, 3, 1, 0, 0, 0, 0, 0, 10, 0, 10};
  ASSERT_FALSE(rig.write(first));
  EXPECT_EQ(rig.server_reads(first.size()), first);

  // A valid request, then type 42, in one chunk: none of it goes out.
  const Buffer bad{3, 1, 0, 0, 0, 0, 0, 10, 0, 10, 42, 0};
  const stream::error_code ec = rig.write(bad);
  EXPECT_EQ(ec, error::view_only_violation);
  EXPECT_EQ(ec.category().name(), std::string("cgw.rfb.view_only"));
  EXPECT_FALSE(ec.message().empty());
  EXPECT_EQ(rig.stream_->last_error_text(),
            "view-only: unknown RFB message type 42 from the browser");
  EXPECT_TRUE(rig.server_has_nothing());

  // It stays ended.
  const Buffer later{3, 1, 0, 0, 0, 0, 0, 10, 0, 10};
  EXPECT_EQ(rig.write(later), error::view_only_violation);
  EXPECT_TRUE(rig.server_has_nothing());
}

TEST(ViewOnlyStream, MixedChunkIsOneWriteOfTheKeptBytes) {
  ViewOnlyRig rig;
  const Buffer chunk{0,                                    // ClientInit, exclusive
                     3, 1, 0, 0,  0, 0,  0, 10,   0, 10,   // update request
                     5, 1, 0, 10, 0, 20,                   // pointer
                     4, 1, 0, 0,  0, 0,  0, 0x61,          // key
                     3, 0, 0, 0,  0, 0,  0, 10,   0, 10};  // update request
  ASSERT_FALSE(rig.write(chunk));
  const Buffer expected{1, 3, 1, 0, 0, 0, 0, 0, 10, 0, 10, 3, 0, 0, 0, 0, 0, 0, 10, 0, 10};
  EXPECT_EQ(rig.server_reads(expected.size()), expected);
  EXPECT_TRUE(rig.server_has_nothing());
  EXPECT_EQ(chunk[0], 0) << "the caller's buffer is left alone";
}

TEST(ViewOnlyStream, OnlyInputWritesNothing) {
  ViewOnlyRig rig;
  const Buffer init{1};
  ASSERT_FALSE(rig.write(init));
  EXPECT_EQ(rig.server_reads(1), init);
  const Buffer input{5, 1, 0, 10, 0, 20, 4, 1, 0, 0, 0, 0, 0, 0x61};
  EXPECT_FALSE(rig.write(input));
  EXPECT_TRUE(rig.server_has_nothing());
}

TEST(ViewOnlyStream, ReadsAreTheConsoles) {
  ViewOnlyRig rig;
  EXPECT_TRUE(rig.stream_->can_wait_readable());
  const std::string update = "framebuffer update";
  net::write(rig.server_, net::buffer(update));
  ViewOnlyStream& s = *rig.stream_;
  const auto [wait_error, read_error, n, text] = rig.run(
      [](ViewOnlyStream& vs) -> net::awaitable<std::tuple<stream::error_code, stream::error_code,
                                                          std::size_t, std::string>> {
        const stream::error_code waited = co_await vs.wait_readable();
        std::string buf(64, '\0');
        auto [ec, size] = co_await vs.read_some(net::buffer(buf));
        buf.resize(size);
        co_return std::tuple{waited, ec, size, buf};
      }(s));
  EXPECT_FALSE(wait_error);
  EXPECT_FALSE(read_error);
  EXPECT_EQ(n, update.size());
  EXPECT_EQ(text, update);
}

TEST(ViewOnlyStream, AbortAndCloseEndTheConsole) {
  {
    ViewOnlyRig rig;
    rig.stream_->abort();
    char byte = 0;
    stream::error_code ec;
    rig.server_.read_some(net::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, net::error::eof);
  }
  {
    ViewOnlyRig rig;
    rig.run(rig.stream_->close(stream::EndReason{1000, "done"}));
    char byte = 0;
    stream::error_code ec;
    rig.server_.read_some(net::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, net::error::eof);
  }
}

// The whole path as the gateway runs it: the browser's socket, the pump, and
// the console behind the view-only stream. The browser's input never reaches
// the server; what the server sends reaches the browser; an unknown message
// ends the session with the view-only error.
TEST(ViewOnlyStream, InThePump) {
  using UnixSocket = net::local::stream_protocol::socket;
  net::io_context ioc;
  UnixSocket browser_end(ioc);
  UnixSocket browser_peer(ioc);
  net::local::connect_pair(browser_end, browser_peer);
  tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  tcp::socket console_end(ioc);
  console_end.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();

  stream::SocketStream<UnixSocket> browser(std::move(browser_end));
  ViewOnlyStream console(std::make_unique<TcpStream>(std::move(console_end)));
  const stream::PumpOptions options;
  auto result = net::co_spawn(ioc, stream::pump(browser, console, options), net::use_future);
  std::thread io([&] { ioc.run(); });

  const Buffer recording = read_recording("novnc-xvnc-plain.bin");
  const Buffer expected = without_input(recording);
  net::write(browser_peer, net::buffer(recording));
  Buffer received(expected.size());
  net::read(server, net::buffer(received));
  EXPECT_EQ(received, expected);

  const std::string update = "server to browser";
  net::write(server, net::buffer(update));
  std::string seen(update.size(), '\0');
  net::read(browser_peer, net::buffer(seen));
  EXPECT_EQ(seen, update);

  const Buffer bad{7, 0, 0, 0};
  net::write(browser_peer, net::buffer(bad));
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  const stream::PumpResult ended = result.get();
  EXPECT_EQ(ended.error, error::view_only_violation);
  EXPECT_EQ(console.last_error_text(), "view-only: unknown RFB message type 7 from the browser");
  char byte = 0;
  stream::error_code ec;
  server.read_some(net::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, net::error::eof) << "the console is let go";
  ioc.stop();
  io.join();
}

}  // namespace
}  // namespace cgw::rfb
