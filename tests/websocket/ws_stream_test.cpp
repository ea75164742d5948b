// WsStream and WssStream (the browser's end as a ByteStream) against a client
// of the test's own on real loopback sockets: the test writes raw, masked
// client frames and reads the server's raw frames. Data both ways (with every
// length encoding and split reads), pings, the close handshake from either
// side, protocol errors, keepalive pings and the cut of a silent browser, and
// one exchange over TLS.
//
// Everything runs on one io_context that the test runs until the event it
// waits for, with a deadline; no fixed sleep bounds what is asserted.
#include "websocket/ws_stream.hpp"
#include "tests/support/scratch.hpp"
#include "tests/websocket/helpers.hpp"

#include <gtest/gtest.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/system/errc.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace cgw {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using stream::error_code;
using test::close_payload;
using test::small_buffers;
using websocket::WssStream;
using websocket::WsStream;
using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t everything = std::numeric_limits<std::size_t>::max();

// --- Client frames (masked, as RFC 6455 requires of a client) ------------------------

constexpr std::uint8_t fin_binary = 0x82;
constexpr std::uint8_t fin_text = 0x81;
constexpr std::uint8_t fin_close = 0x88;
constexpr std::uint8_t fin_ping = 0x89;
constexpr std::uint8_t fin_pong = 0x8A;
constexpr std::array<std::uint8_t, 4> key = {0x5A, 0x13, 0xC4, 0x7E};

std::string client_frame(std::uint8_t b0, std::string_view payload, bool masked = true) {
  std::string f(1, static_cast<char>(b0));
  const char mask_bit = masked ? '\x80' : '\0';
  const std::size_t n = payload.size();
  if (n < 126) {
    f += static_cast<char>(mask_bit | static_cast<char>(n));
  } else if (n <= 0xFFFF) {
    f += static_cast<char>(mask_bit | 126);
    for (int i = 1; i >= 0; --i) f += static_cast<char>(n >> (8 * i));
  } else {
    f += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>(static_cast<std::uint64_t>(n) >> (8 * i));
  }
  if (masked) f.append(reinterpret_cast<const char*>(key.data()), key.size());
  for (std::size_t i = 0; i < n; ++i) {
    f += masked ? static_cast<char>(payload[i] ^ static_cast<char>(key[i % 4])) : payload[i];
  }
  return f;
}

// A whole (short) unmasked server frame.
std::string server_frame(std::uint8_t b0, std::string_view payload) {
  std::string f(1, static_cast<char>(b0));
  f += static_cast<char>(payload.size());
  f += payload;
  return f;
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed) ^ (i >> 9));
  return out;
}

// --- Coroutines (named, parameters by value or referring to the fixture's) ----------

// One server frame as the client reads it off the wire.
struct Frame {
  error_code ec;
  std::string header;  // the raw header bytes
  std::string payload;
};

template <class Stream>
net::awaitable<Frame> read_frame(Stream& s) {
  Frame f;
  std::array<char, 14> h{};
  auto [ec, n] = co_await net::async_read(s, net::buffer(h.data(), 2), use_tuple);
  if (ec) {
    f.ec = ec;
    co_return f;
  }
  const auto b1 = static_cast<std::uint8_t>(h[1]);
  const std::size_t field = (b1 & 0x7F) == 126 ? 2 : (b1 & 0x7F) == 127 ? 8 : 0;
  const std::size_t rest = field + ((b1 & 0x80) ? 4 : 0);
  if (rest != 0) {
    std::tie(ec, n) = co_await net::async_read(s, net::buffer(h.data() + 2, rest), use_tuple);
    if (ec) {
      f.ec = ec;
      co_return f;
    }
  }
  f.header.assign(h.data(), 2 + rest);
  std::uint64_t length = b1 & 0x7F;
  if (field != 0) {
    length = 0;
    for (std::size_t i = 0; i < field; ++i)
      length = (length << 8) | static_cast<std::uint8_t>(h[2 + i]);
  }
  f.payload.resize(static_cast<std::size_t>(length));
  if (length != 0) {
    std::tie(ec, n) = co_await net::async_read(s, net::buffer(f.payload), use_tuple);
    f.ec = ec;
  }
  co_return f;
}

struct Received {
  error_code ec;
  std::string data;
};

// The client reads until the connection ends.
template <class Stream>
net::awaitable<Received> read_to_end(Stream& s) {
  Received r;
  std::array<char, 4096> buf;
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(net::buffer(buf), use_tuple);
    r.data.append(buf.data(), n);
    if (ec) {
      r.ec = ec;
      co_return r;
    }
  }
}

template <class Stream>
net::awaitable<error_code> send_raw(Stream& s, std::string bytes) {
  auto [ec, n] = co_await net::async_write(s, net::buffer(bytes), use_tuple);
  (void)n;
  co_return ec;
}

// The server reads as the pump does (wait_readable, then read_some) until at
// least `want` payload bytes came or the stream ended.
template <class Ws>
net::awaitable<Received> read_payload(Ws& ws, std::size_t want) {
  Received r;
  std::vector<char> buf(64 * 1024);
  while (r.data.size() < want) {
    if (const error_code ec = co_await ws.wait_readable()) {
      r.ec = ec;
      break;
    }
    auto [ec, n] = co_await ws.read_some(net::buffer(buf));
    r.data.append(buf.data(), n);
    if (ec) {
      r.ec = ec;
      break;
    }
  }
  co_return r;
}

// One wait_readable() and read_some().
template <class Ws>
net::awaitable<Received> read_once(Ws& ws) {
  Received r;
  std::vector<char> buf(64 * 1024);
  r.ec = co_await ws.wait_readable();
  if (r.ec) co_return r;
  auto [ec, n] = co_await ws.read_some(net::buffer(buf));
  r.ec = ec;
  r.data.assign(buf.data(), n);
  co_return r;
}

template <class Ws>
net::awaitable<error_code> ws_write(Ws& ws, std::string payload) {
  co_return co_await ws.write(net::buffer(payload));
}

template <class Ws>
net::awaitable<bool> ws_close(Ws& ws, stream::EndReason why) {
  co_await ws.close(std::move(why));
  co_return true;
}

template <class Ws>
net::awaitable<bool> ws_close_and_drain(Ws& ws, stream::EndReason why) {
  co_await ws.close_and_drain(std::move(why));
  co_return true;
}

// The client answers each ping with a pong of the same payload, until it has
// seen `wanted` pings; returns how many it saw (fewer: the connection ended, or
// something other than a ping came).
net::awaitable<int> answer_pings(tcp::socket& s, int wanted) {
  int pings = 0;
  while (pings < wanted) {
    const Frame f = co_await read_frame(s);
    if (f.ec || static_cast<std::uint8_t>(f.header[0]) != fin_ping) break;
    ++pings;
    if (co_await send_raw(s, client_frame(fin_pong, f.payload))) break;
  }
  co_return pings;
}

// A coroutine's outcome, once it has finished.
template <class T>
struct Task {
  bool done = false;
  T value{};
  std::exception_ptr error;
};

template <class T>
std::shared_ptr<Task<T>> spawn(net::io_context& ioc, net::awaitable<T> a) {
  auto task = std::make_shared<Task<T>>();
  net::co_spawn(ioc, std::move(a), [task](std::exception_ptr e, T value) {
    task->error = e;
    task->value = std::move(value);
    task->done = true;
  });
  return task;
}

template <class T>
T& result(const std::shared_ptr<Task<T>>& task) {
  if (task->error) std::rethrow_exception(task->error);
  return task->value;
}

// A connected pair on 127.0.0.1: the server's end in a WsStream, the client's
// end a plain socket the test writes raw frames to.
class WsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    acceptor_.open(tcp::v4());
    if (small()) small_buffers(acceptor_);  // the accepted socket inherits them
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    client_.open(tcp::v4());
    if (small()) small_buffers(client_);
    client_.connect(acceptor_.local_endpoint());
    client_.set_option(tcp::no_delay(true));
    tcp::socket server = acceptor_.accept();
    server.set_option(tcp::no_delay(true));  // as the gateway sets it
    ws_.emplace(websocket::PlainSocket(std::move(server)));
  }

  virtual bool small() const { return false; }

  template <class Pred>
  bool run_until(Pred done, Clock::duration limit = 10s) {
    return test::run_until(ioc_, done, limit);
  }

  template <class T>
  std::shared_ptr<Task<T>> start(net::awaitable<T> a) {
    return spawn(ioc_, std::move(a));
  }

  // Runs `a` to its end; fails the test if it takes longer than `limit`.
  template <class T>
  T await(net::awaitable<T> a, Clock::duration limit = 10s) {
    auto task = start(std::move(a));
    EXPECT_TRUE(run_until([&] { return task->done; }, limit)) << "timed out";
    if (!task->done) throw std::runtime_error("timed out");
    return result(task);
  }

  void client_sends(std::string bytes) {
    const error_code ec = await(send_raw(client_, std::move(bytes)));
    ASSERT_FALSE(ec) << ec.message();
  }
  Frame client_reads_frame() { return await(read_frame(client_)); }
  WsStream& ws() { return *ws_; }

  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  tcp::socket client_{ioc_};
  std::optional<WsStream> ws_;
};

const error_code websocket_closed = boost::beast::websocket::error::closed;
const error_code protocol_error =
    boost::system::errc::make_error_code(boost::system::errc::protocol_error);

// --- Data from the client ----------------------------------------------------------------

TEST_F(WsStreamTest, BinaryFramesInAreReadAsTheirPayload) {
  const std::string big = pattern(70000, 3);  // a 64-bit length, more than one read
  const std::string medium = pattern(300, 5);
  client_sends(client_frame(fin_binary, "hello") + client_frame(fin_binary, medium) +
               client_frame(fin_binary, "") + client_frame(fin_binary, big));
  const Received r = await(read_payload(ws(), 5 + 300 + 70000));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.data == "hello" + medium + big) << "the payload bytes differ";
}

TEST_F(WsStreamTest, AFragmentedMessageIsReadAsItsPayload) {
  client_sends(client_frame(0x02, "frag") + client_frame(fin_ping, "p") +
               client_frame(0x00, "ment") + client_frame(0x80, "ed"));
  const Received r = await(read_payload(ws(), 10));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, "fragmented");
}

TEST_F(WsStreamTest, AFrameSplitAcrossWritesIsReadInPieces) {
  const std::string payload = pattern(200, 9);  // a 16-bit length: 8-byte header
  const std::string frame = client_frame(fin_binary, payload);
  ASSERT_EQ(frame.size(), 208u);
  // Half a header (its length field cut in two): no data, no error yet.
  client_sends(frame.substr(0, 3));
  const Received first = await(read_once(ws()));
  ASSERT_FALSE(first.ec) << first.ec.message();
  EXPECT_EQ(first.data, "");
  // The rest of the header and a piece of the payload, then the rest in two
  // pieces that start out of phase with the mask.
  client_sends(frame.substr(3, 5 + 51));
  Received r = await(read_payload(ws(), 51));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, payload.substr(0, 51));
  client_sends(frame.substr(59, 86));
  r = await(read_payload(ws(), 86));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, payload.substr(51, 86));
  client_sends(frame.substr(145));
  r = await(read_payload(ws(), 63));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, payload.substr(137));
  // And a frame whose first byte comes alone.
  const std::string next = client_frame(fin_binary, "xyz");
  client_sends(next.substr(0, 1));
  const Received alone = await(read_once(ws()));
  ASSERT_FALSE(alone.ec) << alone.ec.message();
  EXPECT_EQ(alone.data, "");
  client_sends(next.substr(1));
  r = await(read_payload(ws(), 3));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, "xyz");
}

// --- Data to the client -----------------------------------------------------------------

TEST_F(WsStreamTest, WriteSendsOneUnmaskedBinaryFrame) {
  struct Case {
    std::size_t size;
    std::string header;
  };
  const Case cases[] = {
      {0, "\x82\x00"s},
      {1, "\x82\x01"s},
      {125, "\x82\x7D"s},
      {126, "\x82\x7E\x00\x7E"s},
      {65535, "\x82\x7E\xFF\xFF"s},
      {65536, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00"s},
      {200000, "\x82\x7F\x00\x00\x00\x00\x00\x03\x0D\x40"s},
  };
  unsigned seed = 0;
  for (const Case& c : cases) {
    const std::string payload = pattern(c.size, ++seed);
    // The client reads while the server writes: a big frame need not fit the
    // socket's buffers.
    auto written = start(ws_write(ws(), payload));
    auto read = start(read_frame(client_));
    ASSERT_TRUE(run_until([&] { return written->done && read->done; })) << c.size;
    ASSERT_FALSE(result(written)) << result(written).message();
    const Frame& f = result(read);
    ASSERT_FALSE(f.ec) << f.ec.message();
    EXPECT_EQ(f.header, c.header) << c.size;
    EXPECT_TRUE(f.payload == payload) << "the payload of " << c.size << " bytes differs";
  }
  // Nothing else was sent: the next bytes are those of the next frame.
  auto written = start(ws_write(ws(), "end"));
  auto read = start(read_frame(client_));
  ASSERT_TRUE(run_until([&] { return written->done && read->done; }));
  EXPECT_EQ(result(read).header + result(read).payload, server_frame(fin_binary, "end"));
}

// --- Pings --------------------------------------------------------------------------------

TEST_F(WsStreamTest, APingIsAnsweredWithAPongBetweenData) {
  EXPECT_FALSE(await(ws_write(ws(), "one")));
  client_sends(client_frame(fin_binary, "abc") + client_frame(fin_ping, "are you there?") +
               client_frame(fin_binary, "def") + client_frame(fin_ping, ""));
  const Received r = await(read_payload(ws(), 6));
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, "abcdef");
  EXPECT_FALSE(await(ws_write(ws(), "two")));

  Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_binary, "one"));
  // Both pings came in one read: RFC 6455 lets a server answer only the newest.
  f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_pong, ""));
  f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_binary, "two"));

  client_sends(client_frame(fin_ping, "second"));
  EXPECT_EQ(await(read_once(ws())).data, "");
  f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_pong, "second"));
}

// Small socket buffers, so that a big write waits for the client to read.
class WsStreamSmallBuffersTest : public WsStreamTest {
 protected:
  bool small() const override { return true; }
};

TEST_F(WsStreamSmallBuffersTest, APongWaitsForTheDataFrameBeingWritten) {
  const std::string big = pattern(1024 * 1024, 21);
  auto written = start(ws_write(ws(), big));
  auto sent =
      start(send_raw(client_, client_frame(fin_ping, "mid") + client_frame(fin_binary, "ok")));
  auto read = start(read_payload(ws(), 2));
  ASSERT_TRUE(run_until([&] { return sent->done; }));
  // Give the server the time to read the ping while its write still waits (the
  // client reads nothing yet); whatever happened, the order below must hold.
  ioc_.run_for(100ms);
  EXPECT_FALSE(written->done) << "the buffers took the whole frame: nothing is tested";
  EXPECT_FALSE(read->done) << "the pong cannot have been sent before the data frame";

  auto data = start(read_frame(client_));
  ASSERT_TRUE(run_until([&] { return data->done && written->done && read->done; }));
  EXPECT_EQ(result(data).header, "\x82\x7F\x00\x00\x00\x00\x00\x10\x00\x00"s);
  EXPECT_TRUE(result(data).payload == big) << "the data frame was broken into";
  EXPECT_FALSE(result(written));
  EXPECT_FALSE(result(read).ec) << result(read).ec.message();
  EXPECT_EQ(result(read).data, "ok");
  const Frame pong = client_reads_frame();
  EXPECT_EQ(pong.header + pong.payload, server_frame(fin_pong, "mid"));
}

// --- Protocol errors ---------------------------------------------------------------------

TEST_F(WsStreamTest, ATextFrameIsClosedWith1003) {
  client_sends(client_frame(fin_text, "hi"));
  auto read = start(read_payload(ws(), everything));
  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload,
            server_frame(fin_close, close_payload(1003, "text frames not supported")));
  // Then the server's FIN, while it waits for the client to close.
  const Received rest = await(read_to_end(client_));
  EXPECT_EQ(rest.ec, net::error::eof) << rest.ec.message();
  EXPECT_EQ(rest.data, "");
  EXPECT_FALSE(read->done);
  client_sends(client_frame(fin_close, close_payload(1003)));
  client_.shutdown(tcp::socket::shutdown_send);
  // Well before the close handshake's 5 s limit.
  ASSERT_TRUE(run_until([&] { return read->done; }, 4s));
  EXPECT_EQ(result(read).ec, protocol_error) << result(read).ec.message();
}

TEST_F(WsStreamTest, AnUnmaskedFrameIsClosedWith1002) {
  auto read = start(read_payload(ws(), everything));
  client_sends(client_frame(fin_binary, "plain", false));
  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload,
            server_frame(fin_close, close_payload(1002, "unmasked client frame")));
  const Received rest = await(read_to_end(client_));
  EXPECT_EQ(rest.ec, net::error::eof) << rest.ec.message();
  EXPECT_EQ(rest.data, "");
  client_.shutdown(tcp::socket::shutdown_send);  // a client that only ends the TCP
  ASSERT_TRUE(run_until([&] { return read->done; }, 4s));
  EXPECT_EQ(result(read).ec, protocol_error) << result(read).ec.message();
}

// --- Closing ------------------------------------------------------------------------------

TEST_F(WsStreamTest, CloseSendsTheCodeAndReasonAndTheReplyEndsReads) {
  auto read = start(read_payload(ws(), everything));  // as the pump reads meanwhile
  EXPECT_TRUE(await(ws_close(ws(), {4000, "console closed"})));
  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_close, close_payload(4000, "console closed")));
  // No data after our close frame: the write completes without sending.
  EXPECT_FALSE(await(ws_write(ws(), "late")));
  EXPECT_FALSE(read->done);

  client_sends(client_frame(fin_close, close_payload(4000)));
  ASSERT_TRUE(run_until([&] { return read->done; }));
  EXPECT_EQ(result(read).ec, websocket_closed) << result(read).ec.message();
  // The reply to our close is not answered with another close frame.
  EXPECT_TRUE(await(ws_close(ws(), {1000, "again"})));
  ws().abort();
  const Received rest = await(read_to_end(client_));
  EXPECT_EQ(rest.ec, net::error::eof) << rest.ec.message();
  EXPECT_EQ(rest.data, "") << "sent after the close frame";
}

TEST_F(WsStreamTest, OverrideCloseReasonReplacesTheReason) {
  ws().override_close_reason({1001, "gateway restarting"});
  EXPECT_TRUE(await(ws_close(ws(), {1000, "console closed"})));
  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload,
            server_frame(fin_close, close_payload(1001, "gateway restarting")));
}

TEST_F(WsStreamTest, TheClientsCloseEndsReadsAndIsEchoed) {
  client_sends(client_frame(fin_binary, "last") +
               client_frame(fin_close, close_payload(1000, "bye")));
  // The data before the close frame first, then the end, without waiting for
  // more from the client (it waits for us to end the TCP connection).
  Received r = await(read_payload(ws(), 4));
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.data, "last");
  r = await(read_payload(ws(), everything), 3s);
  EXPECT_EQ(r.ec, websocket_closed) << r.ec.message();
  EXPECT_EQ(r.data, "");
  // Reading again tells the same.
  r = await(read_payload(ws(), everything));
  EXPECT_EQ(r.ec, websocket_closed) << r.ec.message();

  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_close, close_payload(1000)));
  // close() after the echo sends nothing more.
  EXPECT_TRUE(await(ws_close(ws(), {1000, "console closed"})));
  ws().abort();
  const Received rest = await(read_to_end(client_));
  EXPECT_EQ(rest.ec, net::error::eof) << rest.ec.message();
  EXPECT_EQ(rest.data, "");
}

TEST_F(WsStreamTest, AClientsCloseWithoutACodeIsEchoedWithoutOne) {
  client_sends(client_frame(fin_close, ""));
  const Received r = await(read_payload(ws(), everything));
  EXPECT_EQ(r.ec, websocket_closed) << r.ec.message();
  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_close, ""));
}

TEST_F(WsStreamTest, CloseAndDrainEndsWithTheClientsReply) {
  auto drained = start(ws_close_and_drain(ws(), {1008, "not allowed"}));
  const Frame f = client_reads_frame();
  EXPECT_EQ(f.header + f.payload, server_frame(fin_close, close_payload(1008, "not allowed")));
  EXPECT_FALSE(drained->done);
  client_sends(client_frame(fin_binary, "dropped") + client_frame(fin_close, close_payload(1008)));
  ASSERT_TRUE(run_until([&] { return drained->done; }, 4s));
  const Received rest = await(read_to_end(client_));
  EXPECT_EQ(rest.ec, net::error::eof) << rest.ec.message();
  EXPECT_EQ(rest.data, "");
}

// --- Keepalive ----------------------------------------------------------------------------

TEST_F(WsStreamTest, KeepAlivePingsAClientThatAnswersAndKeepsIt) {
  const auto started = Clock::now();
  ws().keep_alive(200ms);
  auto read = start(read_payload(ws(), everything));
  auto pings = start(answer_pings(client_, 3));
  ASSERT_TRUE(run_until([&] { return pings->done || read->done; }));
  EXPECT_EQ(result(pings), 3);
  // Three pings take at least three intervals of silence: longer than a client
  // that does not answer is kept.
  EXPECT_GE(Clock::now() - started, 600ms);
  EXPECT_FALSE(read->done) << "cut: " << read->value.ec.message();

  ws().abort();
  ASSERT_TRUE(run_until([&] { return read->done; }));
  EXPECT_TRUE(result(read).ec);
}

TEST_F(WsStreamTest, KeepAliveCutsAClientThatNeverAnswers) {
  const auto started = Clock::now();
  ws().keep_alive(200ms);
  auto read = start(read_payload(ws(), everything));
  ASSERT_TRUE(run_until([&] { return read->done; }, 10s)) << "never cut";
  // Four quiet ticks, every half interval: twice the interval at least.
  EXPECT_GE(Clock::now() - started, 400ms);
  EXPECT_EQ(result(read).ec, net::error::timed_out) << result(read).ec.message();
  // The client was pinged once, then the connection ended.
  const Received rest = await(read_to_end(client_));
  EXPECT_EQ(rest.data, "\x89\x00"s);
  EXPECT_EQ(rest.ec, net::error::eof) << rest.ec.message();
  // And reading again tells the same.
  EXPECT_EQ(await(read_once(ws())).ec, net::error::timed_out);
}

TEST_F(WsStreamTest, KeepAliveCountsDataAsALifeSign) {
  // A client that sends data but never answers pings is not cut while it sends.
  const auto started = Clock::now();
  ws().keep_alive(200ms);
  auto read = start(read_payload(ws(), everything));
  int sent = 0;
  while (Clock::now() - started < 700ms && !read->done) {
    client_sends(client_frame(fin_binary, "x"));
    ++sent;
    ioc_.run_for(50ms);
  }
  EXPECT_FALSE(read->done) << "cut: " << read->value.ec.message();
  EXPECT_GE(sent, 8);
  ws().abort();
  ASSERT_TRUE(run_until([&] { return read->done; }));
}

// --- Over TLS -----------------------------------------------------------------------------

net::awaitable<error_code> server_handshake(websocket::TlsSocket& tls) {
  co_return co_await tls.handshake();
}

net::awaitable<error_code> client_handshake(ssl::stream<tcp::socket>& client) {
  auto [ec] = co_await client.async_handshake(ssl::stream_base::client, use_tuple);
  co_return ec;
}

class WssStreamTest : public ::testing::Test {
 protected:
  WssStreamTest() : server_ctx_(ssl::context::tls_server), client_ctx_(ssl::context::tls_client) {
    test::use_test_certificate(scratch_, server_ctx_, client_ctx_);
  }

  template <class Pred>
  bool run_until(Pred done, Clock::duration limit = 10s) {
    return test::run_until(ioc_, done, limit);
  }

  test::Scratch scratch_;
  net::io_context ioc_;
  ssl::context server_ctx_;
  ssl::context client_ctx_;
};

TEST_F(WssStreamTest, OneFrameEachWayAndAPing) {
  tcp::acceptor acceptor(ioc_, {net::ip::make_address("127.0.0.1"), 0});
  ssl::stream<tcp::socket> client(ioc_, client_ctx_);
  client.next_layer().connect(acceptor.local_endpoint());
  websocket::TlsSocket tls(acceptor.accept(), server_ctx_.native_handle(), {});
  auto server_done = spawn(ioc_, server_handshake(tls));
  auto client_done = spawn(ioc_, client_handshake(client));
  ASSERT_TRUE(run_until([&] { return server_done->done && client_done->done; }));
  ASSERT_FALSE(result(server_done)) << result(server_done).message();
  ASSERT_FALSE(result(client_done)) << result(client_done).message();
  WssStream ws(std::move(tls));

  const std::string up = pattern(1000, 1);
  auto sent =
      spawn(ioc_, send_raw(client, client_frame(fin_ping, "tls?") + client_frame(fin_binary, up)));
  auto read = spawn(ioc_, read_payload(ws, up.size()));
  ASSERT_TRUE(run_until([&] { return sent->done && read->done; }));
  ASSERT_FALSE(result(sent)) << result(sent).message();
  ASSERT_FALSE(result(read).ec) << result(read).ec.message();
  EXPECT_TRUE(result(read).data == up) << "the bytes sent up differ";

  const std::string down = pattern(70000, 2);
  auto written = spawn(ioc_, ws_write(ws, down));
  auto pong = spawn(ioc_, read_frame(client));
  ASSERT_TRUE(run_until([&] { return written->done && pong->done; }));
  EXPECT_FALSE(result(written)) << result(written).message();
  EXPECT_EQ(result(pong).header + result(pong).payload, server_frame(fin_pong, "tls?"));
  auto data = spawn(ioc_, read_frame(client));
  ASSERT_TRUE(run_until([&] { return data->done; }));
  ASSERT_FALSE(result(data).ec) << result(data).ec.message();
  EXPECT_EQ(result(data).header, "\x82\x7F\x00\x00\x00\x00\x00\x01\x11\x70"s);
  EXPECT_TRUE(result(data).payload == down) << "the bytes sent down differ";

  auto closed = spawn(ioc_, ws_close(ws, {1000, "bye"}));
  auto close = spawn(ioc_, read_frame(client));
  ASSERT_TRUE(run_until([&] { return closed->done && close->done; }));
  EXPECT_EQ(result(close).header + result(close).payload,
            server_frame(fin_close, close_payload(1000, "bye")));
}

}  // namespace
}  // namespace cgw
