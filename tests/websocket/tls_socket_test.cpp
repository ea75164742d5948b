// TlsSocket against OpenSSL's client (through Asio's ssl::stream), on real
// loopback sockets: the handshake (with the bytes read before TLS was known),
// bulk in both directions through small socket buffers (so that every write
// waits for room and every read for data), the end of the stream, and the
// time limit.
#include "websocket/tls_socket.hpp"
#include "tests/support/scratch.hpp"
#include "tests/websocket/helpers.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>

#include <chrono>
#include <future>
#include <thread>

namespace cgw {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using stream::error_code;
using test::small_buffers;
using websocket::TlsSocket;
using namespace std::chrono_literals;

std::string pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + seed) ^ (i >> 11));
  return out;
}

// The server's side runs on its own thread; the test is the client.
class TlsSocketTest : public ::testing::Test {
 protected:
  TlsSocketTest() : server_ctx_(ssl::context::tls_server), client_ctx_(ssl::context::tls_client) {
    test::use_test_certificate(scratch_, server_ctx_, client_ctx_);
    acceptor_.open(tcp::v4());
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
  }
  ~TlsSocketTest() override {
    server_ioc_.stop();
    if (server_thread_.joinable()) server_thread_.join();
  }

  // Accepts one connection and runs `body` on it as a coroutine.
  template <class Body>
  void serve(Body body) {
    net::co_spawn(
        server_ioc_,
        [this, body]() mutable -> net::awaitable<void> {
          tcp::socket socket = co_await acceptor_.async_accept(net::use_awaitable);
          co_await body(std::move(socket));
        },
        net::detached);
    server_thread_ = std::thread([this] { server_ioc_.run(); });
  }

  // `small`: 4 KiB socket buffers, set before connecting.
  ssl::stream<tcp::socket> connect(bool small = false) {
    ssl::stream<tcp::socket> client(client_ioc_, client_ctx_);
    client.next_layer().open(tcp::v4());
    if (small) small_buffers(client.next_layer());
    client.next_layer().connect(acceptor_.local_endpoint());
    return client;
  }

  test::Scratch scratch_;
  net::io_context server_ioc_;
  net::io_context client_ioc_;
  ssl::context server_ctx_;
  ssl::context client_ctx_;
  tcp::acceptor acceptor_{server_ioc_};
  std::thread server_thread_;
};

// Reads until `size` bytes came, waiting for the socket when it has none.
net::awaitable<error_code> read_all(TlsSocket& tls, std::string& out, std::size_t size) {
  std::string buf(64 * 1024, '\0');
  bool drained = false;
  while (out.size() < size) {
    if (drained && !tls.input_buffered()) {
      if (const error_code ec = co_await tls.wait_read()) co_return ec;
    }
    error_code ec;
    const std::size_t n = tls.read_some(net::buffer(buf), ec, drained);
    if (stream::would_block(ec)) continue;
    if (ec) co_return ec;
    out.append(buf.data(), n);
  }
  co_return error_code{};
}

TEST_F(TlsSocketTest, BulkBothWaysThroughSmallSocketBuffers) {
  constexpr std::size_t size = 4 * 1024 * 1024;
  const std::string down = pattern(size, 7);
  const std::string up = pattern(size, 11);
  std::promise<std::string> received;
  std::promise<error_code> outcome;
  small_buffers(acceptor_);  // the accepted socket inherits them
  serve([&](tcp::socket socket) -> net::awaitable<void> {
    // What a gateway reads while finding out whether TLS is spoken: the start
    // of the ClientHello, handed to OpenSSL before the rest.
    std::array<char, 7> first{};
    co_await net::async_read(socket, net::buffer(first), net::use_awaitable);
    TlsSocket tls(std::move(socket), server_ctx_.native_handle(),
                  std::string_view(first.data(), first.size()));
    if (error_code ec = co_await tls.handshake()) {
      outcome.set_value(ec);
      co_return;
    }
    // Down: 64 KiB messages, each after a 10-byte "header", as WsStream writes.
    const std::string header(10, 'h');
    error_code ec;
    for (std::size_t off = 0; off < size && !ec; off += 64 * 1024) {
      const std::array<net::const_buffer, 2> parts{
          net::buffer(header),
          net::buffer(down.data() + off, std::min<std::size_t>(64 * 1024, size - off))};
      ec = co_await tls.write_all(parts);
    }
    // Up: everything the client sends.
    std::string got;
    if (!ec) ec = co_await read_all(tls, got, size);
    received.set_value(std::move(got));
    outcome.set_value(ec);
  });

  auto client = connect(true);
  client.handshake(ssl::stream_base::client);
  std::string got;
  std::string message(10 + 64 * 1024, '\0');
  for (std::size_t off = 0; off < size; off += 64 * 1024) {
    net::read(client, net::buffer(message));
    ASSERT_EQ(message.substr(0, 10), std::string(10, 'h'));
    got.append(message, 10);
  }
  EXPECT_TRUE(got == down) << "the bytes sent down differ";
  net::write(client, net::buffer(up));
  auto future = received.get_future();
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  EXPECT_TRUE(future.get() == up) << "the bytes sent up differ";
  EXPECT_FALSE(outcome.get_future().get());
}

TEST_F(TlsSocketTest, CloseNotifyIsTheEndOfTheStream) {
  std::promise<std::pair<std::string, error_code>> result;
  serve([&](tcp::socket socket) -> net::awaitable<void> {
    TlsSocket tls(std::move(socket), server_ctx_.native_handle(), {});
    if (error_code ec = co_await tls.handshake()) {
      result.set_value({"", ec});
      co_return;
    }
    std::string got;
    const error_code ec = co_await read_all(tls, got, 1000);  // more than comes
    result.set_value({got, ec});
  });
  auto client = connect();
  client.handshake(ssl::stream_base::client);
  net::write(client, net::buffer(std::string_view("abc")));
  client.shutdown();
  auto [got, ec] = result.get_future().get();
  EXPECT_EQ(got, "abc");
  EXPECT_EQ(ec, net::error::eof) << ec.message();
}

TEST_F(TlsSocketTest, ACutConnectionIsATruncatedStream) {
  std::promise<error_code> result;
  serve([&](tcp::socket socket) -> net::awaitable<void> {
    TlsSocket tls(std::move(socket), server_ctx_.native_handle(), {});
    if (error_code ec = co_await tls.handshake()) {
      result.set_value(ec);
      co_return;
    }
    std::string got;
    result.set_value(co_await read_all(tls, got, 1000));
  });
  auto client = connect();
  client.handshake(ssl::stream_base::client);
  net::write(client, net::buffer(std::string_view("abc")));
  // A FIN with no close_notify. (Not close(): with the server's session
  // tickets still unread, closing would send a reset instead.)
  client.next_layer().shutdown(tcp::socket::shutdown_send);
  const error_code ec = result.get_future().get();
  EXPECT_EQ(ec, ssl::error::stream_truncated) << ec.message();
}

TEST_F(TlsSocketTest, AHandshakeThatNeverComesTimesOut) {
  std::promise<error_code> result;
  serve([&](tcp::socket socket) -> net::awaitable<void> {
    TlsSocket tls(std::move(socket), server_ctx_.native_handle(), {});
    tls.expires_after(200ms);
    result.set_value(co_await tls.handshake());
  });
  auto client = connect();  // TCP only: no ClientHello
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(future.get(), boost::beast::error::timeout);
}

TEST_F(TlsSocketTest, NotTlsFailsTheHandshake) {
  std::promise<error_code> result;
  serve([&](tcp::socket socket) -> net::awaitable<void> {
    TlsSocket tls(std::move(socket), server_ctx_.native_handle(), {});
    result.set_value(co_await tls.handshake());
  });
  auto client = connect();
  net::write(client.next_layer(),
             net::buffer(std::string_view("\x16\x03\x01garbage, not a hello")));
  auto future = result.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  const error_code ec = future.get();
  EXPECT_TRUE(ec);
  EXPECT_FALSE(stream::would_block(ec)) << ec.message();
}

}  // namespace
}  // namespace cgw
