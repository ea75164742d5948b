// The byte pump over real sockets. Two UNIX socket pairs: one end of each is
// wrapped in a SocketStream and handed to pump() as the "client" and the
// "console"; the test drives the other ends (the peers) with plain system
// calls from its own threads, so nothing here shares the pump's io_context
// thread except the sockets the pump owns.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>

#include "stream/buffer_pool.hpp"
#include "stream/pump.hpp"
#include "stream/socket_stream.hpp"

namespace cgw::stream {

namespace net = boost::asio;
namespace {

using namespace std::chrono_literals;
using UnixSocket = net::local::stream_protocol::socket;
using UnixStream = SocketStream<UnixSocket>;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// Bytes that differ everywhere, so a lost, doubled or reordered chunk shows.
std::string pattern(std::size_t size, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; i += 4) {
    const std::uint32_t word = gen();
    std::memcpy(out.data() + i, &word, std::min<std::size_t>(4, size - i));
  }
  return out;
}

// Sends from `data` until all is sent, or the socket takes nothing for `stall`,
// or it fails. Returns how much was sent.
std::size_t send_until_stall(int fd, std::string_view data, std::chrono::milliseconds stall) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const std::size_t chunk = std::min(data.size() - sent, 256 * KiB);
    const ssize_t n = ::send(fd, data.data() + sent, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(stall.count()));
      if (ready == 0) return sent;
      if (ready < 0 && errno != EINTR) return sent;
      continue;
    }
    return sent;
  }
  return sent;
}

// Receives up to `size` bytes; stops early at EOF, an error, or after `stall`
// without data.
std::string recv_up_to(int fd, std::size_t size, std::chrono::milliseconds stall) {
  std::string out;
  out.reserve(size);
  std::string chunk(256 * KiB, '\0');
  while (out.size() < size) {
    const std::size_t want = std::min(chunk.size(), size - out.size());
    const ssize_t n = ::recv(fd, chunk.data(), want, MSG_DONTWAIT);
    if (n > 0) {
      out.append(chunk.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return out;  // EOF
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return out;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(stall.count()));
    if (ready == 0) return out;
    if (ready < 0 && errno != EINTR) return out;
  }
  return out;
}

// True when the peer's next read shows the end of the stream (within `timeout`).
bool sees_eof(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  char byte = 0;
  return ::recv(fd, &byte, 1, MSG_DONTWAIT) == 0;
}

int buffer_sizes(int fd) {
  int snd = 0;
  int rcv = 0;
  socklen_t len = sizeof snd;
  ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, &len);
  len = sizeof rcv;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, &len);
  return snd + rcv;
}

// A pump between two socket pairs, running on its own io_context thread.
class PumpRig {
 public:
  explicit PumpRig(PumpOptions options = {}) : options_(std::move(options)) {
    UnixSocket client_end(ioc_);
    UnixSocket console_end(ioc_);
    net::local::connect_pair(client_end, client_peer_);
    net::local::connect_pair(console_end, console_peer_);
    client_ = std::make_unique<UnixStream>(std::move(client_end));
    console_ = std::make_unique<UnixStream>(std::move(console_end));
    kernel_buffers_ = buffer_sizes(client_->socket().native_handle()) +
                      buffer_sizes(console_->socket().native_handle()) +
                      buffer_sizes(client_peer()) + buffer_sizes(console_peer());
    // pump() reads its options when it first runs, on the io_context thread.
    result_ = net::co_spawn(ioc_, pump(*client_, *console_, options_), net::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
  }

  ~PumpRig() {
    ioc_.stop();
    thread_.join();
  }

  int client_peer() { return client_peer_.native_handle(); }
  int console_peer() { return console_peer_.native_handle(); }
  // Every byte the four sockets' kernel buffers may hold, as SO_SNDBUF + SO_RCVBUF.
  std::size_t kernel_buffers() const { return static_cast<std::size_t>(kernel_buffers_); }

  bool finishes_within(std::chrono::seconds timeout) {
    return result_.wait_for(timeout) == std::future_status::ready;
  }
  PumpResult result() { return result_.get(); }

 private:
  PumpOptions options_;
  net::io_context ioc_;
  UnixSocket client_peer_{ioc_};
  UnixSocket console_peer_{ioc_};
  std::unique_ptr<UnixStream> client_;
  std::unique_ptr<UnixStream> console_;
  int kernel_buffers_ = 0;
  std::future<PumpResult> result_;
  std::thread thread_;
};

constexpr auto stall_limit = 10s;

TEST(Pump, BytesFlowBothWaysUnchanged) {
  PumpRig rig;
  const std::string up = pattern(4 * MiB, 1);    // client → console
  const std::string down = pattern(4 * MiB, 2);  // console → client

  std::size_t up_sent = 0;
  std::size_t down_sent = 0;
  std::string up_received;
  std::thread client_writer(
      [&] { up_sent = send_until_stall(rig.client_peer(), up, stall_limit); });
  std::thread console_writer(
      [&] { down_sent = send_until_stall(rig.console_peer(), down, stall_limit); });
  std::thread console_reader(
      [&] { up_received = recv_up_to(rig.console_peer(), up.size(), stall_limit); });
  const std::string down_received = recv_up_to(rig.client_peer(), down.size(), stall_limit);
  client_writer.join();
  console_writer.join();
  console_reader.join();

  EXPECT_EQ(up_sent, up.size());
  EXPECT_EQ(down_sent, down.size());
  ASSERT_EQ(up_received.size(), up.size());
  ASSERT_EQ(down_received.size(), down.size());
  EXPECT_TRUE(up_received == up) << "client → console bytes changed";
  EXPECT_TRUE(down_received == down) << "console → client bytes changed";

  // The client goes away: the pump ends and lets the console go.
  ASSERT_EQ(::shutdown(rig.client_peer(), SHUT_WR), 0);
  ASSERT_TRUE(rig.finishes_within(10s));
  const PumpResult result = rig.result();
  EXPECT_EQ(result.ended_by, PumpResult::Ender::client);
  EXPECT_EQ(result.client_to_console, up.size());
  EXPECT_EQ(result.console_to_client, down.size());
  EXPECT_TRUE(sees_eof(rig.console_peer(), 5000ms));
}

TEST(Pump, SmallBufferStillCopiesEverything) {
  PumpOptions options;
  options.max_read = 7;
  PumpRig rig(options);
  const std::string down = pattern(100 * KiB + 3, 3);
  std::size_t sent = 0;
  std::thread writer([&] { sent = send_until_stall(rig.console_peer(), down, stall_limit); });
  const std::string received = recv_up_to(rig.client_peer(), down.size(), stall_limit);
  writer.join();
  EXPECT_EQ(sent, down.size());
  EXPECT_TRUE(received == down);

  ASSERT_EQ(::shutdown(rig.console_peer(), SHUT_WR), 0);
  ASSERT_TRUE(rig.finishes_within(10s));
  EXPECT_EQ(rig.result().console_to_client, down.size());
}

TEST(Pump, AQuietSessionGivesItsLargeBufferBack) {
  PumpRig rig;
  // A burst borrows a large buffer for the console's direction...
  const std::string burst = pattern(4 * MiB, 5);
  std::string received;
  std::thread reader([&] { received = recv_up_to(rig.client_peer(), burst.size(), stall_limit); });
  EXPECT_EQ(send_until_stall(rig.console_peer(), burst, stall_limit), burst.size());
  reader.join();
  EXPECT_TRUE(received == burst);
  // ...and a small message afterwards shows the stream is quiet again: the
  // session then holds no large buffer while it waits.
  ASSERT_EQ(send_until_stall(rig.console_peer(), "tick", stall_limit), 4u);
  EXPECT_EQ(recv_up_to(rig.client_peer(), 4, stall_limit), "tick");
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (BorrowedBuffer::outstanding() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(BorrowedBuffer::outstanding(), 0u);
}

TEST(Pump, ConsoleClosesEndsTheSessionAndTheClientSeesEof) {
  PumpRig rig;
  // A last word from the console, then its end.
  ASSERT_EQ(send_until_stall(rig.console_peer(), "bye", stall_limit), 3u);
  ASSERT_EQ(send_until_stall(rig.client_peer(), "hello", stall_limit), 5u);
  EXPECT_EQ(recv_up_to(rig.console_peer(), 5, stall_limit), "hello");
  ASSERT_EQ(::shutdown(rig.console_peer(), SHUT_WR), 0);

  ASSERT_TRUE(rig.finishes_within(10s));
  const PumpResult result = rig.result();
  EXPECT_EQ(result.ended_by, PumpResult::Ender::console);
  EXPECT_EQ(result.error, net::error::eof);
  EXPECT_EQ(result.console_to_client, 3u);
  EXPECT_EQ(result.client_to_console, 5u);
  // Everything the console said reaches the client before its end.
  EXPECT_EQ(recv_up_to(rig.client_peer(), 3, stall_limit), "bye");
  EXPECT_TRUE(sees_eof(rig.client_peer(), 5000ms));
}

TEST(Pump, ClientClosesEndsTheSessionAndTheConsoleSeesEof) {
  PumpRig rig;
  ASSERT_EQ(send_until_stall(rig.client_peer(), "abc", stall_limit), 3u);
  EXPECT_EQ(recv_up_to(rig.console_peer(), 3, stall_limit), "abc");
  ASSERT_EQ(send_until_stall(rig.console_peer(), "RFB 003.008\n", stall_limit), 12u);
  EXPECT_EQ(recv_up_to(rig.client_peer(), 12, stall_limit), "RFB 003.008\n");
  ASSERT_EQ(::shutdown(rig.client_peer(), SHUT_RDWR), 0);

  ASSERT_TRUE(rig.finishes_within(10s));
  const PumpResult result = rig.result();
  EXPECT_EQ(result.ended_by, PumpResult::Ender::client);
  EXPECT_EQ(result.error, net::error::eof);
  EXPECT_EQ(result.client_to_console, 3u);
  EXPECT_EQ(result.console_to_client, 12u);
  EXPECT_TRUE(sees_eof(rig.console_peer(), 5000ms));
}

TEST(Pump, ClientThatDoesNotReadStopsReadsFromTheConsole) {
  PumpRig rig;
  const std::string data = pattern(64 * MiB, 4);

  // The client reads nothing: once its socket is full, the pump must stop
  // taking from the console, and the console's socket fills in turn.
  std::size_t accepted = 0;
  for (;;) {
    const std::size_t n =
        send_until_stall(rig.console_peer(), std::string_view(data).substr(accepted), 500ms);
    accepted += n;
    if (n == 0 || accepted == data.size()) break;
  }
  const std::size_t bound = BorrowedBuffer::size + rig.kernel_buffers();
  RecordProperty("accepted_while_stalled", std::to_string(accepted));
  RecordProperty("bound", std::to_string(bound));
  EXPECT_LT(accepted, data.size());
  EXPECT_LE(accepted, bound) << "the pump buffers beyond one read per direction";
  EXPECT_GT(accepted, 0u);

  // The client reads again: the pump resumes and everything arrives intact.
  std::string received;
  std::thread reader([&] { received = recv_up_to(rig.client_peer(), data.size(), stall_limit); });
  const std::size_t rest =
      send_until_stall(rig.console_peer(), std::string_view(data).substr(accepted), stall_limit);
  reader.join();
  EXPECT_EQ(accepted + rest, data.size());
  ASSERT_EQ(received.size(), data.size());
  EXPECT_TRUE(received == data);

  ASSERT_EQ(::shutdown(rig.console_peer(), SHUT_WR), 0);
  ASSERT_TRUE(rig.finishes_within(10s));
  const PumpResult result = rig.result();
  EXPECT_EQ(result.ended_by, PumpResult::Ender::console);
  EXPECT_EQ(result.console_to_client, data.size());
  EXPECT_EQ(result.client_to_console, 0u);
}

// A layer around a real stream that passes everything on; the layers below
// change one thing each.
class Layer : public ByteStream {
 public:
  explicit Layer(ByteStream& inner) : inner_(inner) {}
  net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) override {
    co_return co_await inner_.read_some(b);
  }
  bool can_wait_readable() const noexcept override { return inner_.can_wait_readable(); }
  net::awaitable<error_code> wait_readable() override { co_return co_await inner_.wait_readable(); }
  net::awaitable<error_code> write(net::const_buffer b) override {
    co_return co_await inner_.write(b);
  }
  net::awaitable<void> close(EndReason why) override { co_await inner_.close(why); }
  void abort() noexcept override { inner_.abort(); }

 protected:
  ByteStream& inner_;
};

// Records the reason it was closed with.
class ReasonRecorder final : public Layer {
 public:
  using Layer::Layer;
  net::awaitable<void> close(EndReason why) override {
    closed_with = why;
    co_await inner_.close(why);
  }
  std::optional<EndReason> closed_with;
};

// A console layer that refuses the first thing the client writes and says why,
// as the view-only filter does with a message it does not know.
class RefusingLayer final : public Layer {
 public:
  using Layer::Layer;
  net::awaitable<error_code> write(net::const_buffer) override {
    refused_ = true;
    co_return make_error_code(boost::system::errc::protocol_error);
  }
  std::optional<EndReason> ending() const override {
    if (!refused_) return std::nullopt;
    return EndReason{1008, "not allowed"};
  }

 private:
  bool refused_ = false;
};

// A pump between two socket pairs, as PumpRig, with a layer of the test's
// around each of the pump's streams.
template <class ClientLayer, class ConsoleLayer>
class LayeredRig {
 public:
  explicit LayeredRig(PumpOptions options = {}) : options_(std::move(options)) {
    UnixSocket client_end(ioc_);
    UnixSocket console_end(ioc_);
    net::local::connect_pair(client_end, client_peer_);
    net::local::connect_pair(console_end, console_peer_);
    client_socket_ = std::make_unique<UnixStream>(std::move(client_end));
    console_socket_ = std::make_unique<UnixStream>(std::move(console_end));
    client_ = std::make_unique<ClientLayer>(*client_socket_);
    console_ = std::make_unique<ConsoleLayer>(*console_socket_);
    result_ = net::co_spawn(ioc_, pump(*client_, *console_, options_), net::use_future);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~LayeredRig() {
    ioc_.stop();
    thread_.join();
  }

  int client_peer() { return client_peer_.native_handle(); }
  int console_peer() { return console_peer_.native_handle(); }
  ClientLayer& client() { return *client_; }
  // The pump's result once it has ended within `timeout`.
  std::optional<PumpResult> finish(std::chrono::seconds timeout) {
    if (result_.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return result_.get();
  }

 private:
  const PumpOptions options_;
  net::io_context ioc_;
  UnixSocket client_peer_{ioc_};
  UnixSocket console_peer_{ioc_};
  std::unique_ptr<UnixStream> client_socket_;
  std::unique_ptr<UnixStream> console_socket_;
  std::unique_ptr<ClientLayer> client_;
  std::unique_ptr<ConsoleLayer> console_;
  std::future<PumpResult> result_;
  std::thread thread_;
};

TEST(Pump, AConsoleLayerThatEndsTheSessionSaysWhyToTheClient) {
  LayeredRig<ReasonRecorder, RefusingLayer> rig;
  ASSERT_EQ(send_until_stall(rig.client_peer(), "key", stall_limit), 3u);
  const std::optional<PumpResult> result = rig.finish(10s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->ended_by, PumpResult::Ender::console);
  ASSERT_TRUE(rig.client().closed_with.has_value());
  EXPECT_EQ(rig.client().closed_with->code, 1008);
  EXPECT_EQ(rig.client().closed_with->text, "not allowed");
  // Nothing of what was refused reached the console.
  EXPECT_EQ(recv_up_to(rig.console_peer(), 3, 200ms), "");
}

TEST(Pump, AnIdleSessionIsEndedAndTheClientToldWhy) {
  PumpOptions options;
  options.idle_timeout = 400ms;
  options.idle = EndReason{4408, "console idle for 400ms"};
  LayeredRig<ReasonRecorder, ReasonRecorder> rig(options);
  ASSERT_EQ(send_until_stall(rig.client_peer(), "key", stall_limit), 3u);
  EXPECT_EQ(recv_up_to(rig.console_peer(), 3, 2000ms), "key");
  const auto quiet_since = std::chrono::steady_clock::now();
  const std::optional<PumpResult> result = rig.finish(5s);
  ASSERT_TRUE(result) << "an idle session was not ended";
  // Between the limit and a quarter of it later (one tick).
  EXPECT_GE(std::chrono::steady_clock::now() - quiet_since, 350ms);
  EXPECT_EQ(result->ended_by, PumpResult::Ender::console);
  EXPECT_EQ(result->error, idle_error());
  ASSERT_TRUE(rig.client().closed_with.has_value());
  EXPECT_EQ(rig.client().closed_with->code, 4408);
  EXPECT_EQ(rig.client().closed_with->text, "console idle for 400ms");
}

TEST(Pump, ABusySessionIsEndedAtItsMaximumLength) {
  PumpOptions options;
  options.idle_timeout = 400ms;  // never reached: the session is busy
  options.max_length = 1s;
  LayeredRig<ReasonRecorder, ReasonRecorder> rig(options);
  const auto start = std::chrono::steady_clock::now();
  std::atomic<bool> stop{false};
  std::thread typing([&] {
    while (!stop) {
      ::send(rig.client_peer(), "k", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      recv_up_to(rig.console_peer(), 1, 100ms);
    }
  });
  const std::optional<PumpResult> result = rig.finish(5s);
  stop = true;
  typing.join();
  ASSERT_TRUE(result) << "the session outlived its maximum length";
  EXPECT_GE(std::chrono::steady_clock::now() - start, 950ms);
  EXPECT_LE(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(result->error, too_long_error());
  ASSERT_TRUE(rig.client().closed_with.has_value());
  EXPECT_EQ(rig.client().closed_with->code, 4410);
}

// A browser that never stops sending, as fast as the pump reads: every read
// fills the buffer and the next one never has to wait. (A real socket cannot
// be kept full that reliably.) Writes go to the real socket. Ends with eof
// once told to.
class EndlessSource final : public Layer {
 public:
  using Layer::Layer;
  net::awaitable<std::tuple<error_code, std::size_t>> read_some(net::mutable_buffer b) override {
    if (stop) co_return std::tuple{error_code(net::error::eof), std::size_t{0}};
    std::memset(b.data(), 'k', b.size());
    co_return std::tuple{error_code{}, b.size()};
  }
  bool can_wait_readable() const noexcept override { return true; }
  net::awaitable<error_code> wait_readable() override { co_return error_code{}; }
  std::atomic<bool> stop{false};
};

// A console layer that drops everything it is given, as the view-only filter
// drops a flood of key events: its writes never wait either.
class DroppingLayer final : public Layer {
 public:
  using Layer::Layer;
  net::awaitable<error_code> write(net::const_buffer) override { co_return error_code{}; }
};

TEST(Pump, ADirectionThatNeverWaitsLetsTheOtherOneRun) {
  LayeredRig<EndlessSource, DroppingLayer> rig;
  // The console speaks while the browser floods: its words still get through.
  ASSERT_EQ(send_until_stall(rig.console_peer(), "screen", stall_limit), 6u);
  EXPECT_EQ(recv_up_to(rig.client_peer(), 6, 5000ms), "screen");
  rig.client().stop = true;
  const std::optional<PumpResult> result = rig.finish(10s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->console_to_client, 6u);
}

}  // namespace
}  // namespace cgw::stream
