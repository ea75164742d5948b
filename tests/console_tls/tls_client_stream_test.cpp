// TlsClientStream against a real TLS server (Asio's ssl::stream on a loopback
// port or a UNIX socket pair, in the same io_context), with certificates made
// by the test: data both ways, the handshake's refusals and their sentences,
// the endings, the read/write interplay, and the pump.
#include "console_tls/tls_client_stream.hpp"
#include "console_tls/client_context.hpp"

#include "stream/pump.hpp"
#include "stream/socket_stream.hpp"
#include "tests/console_tls/certs.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <future>

namespace cgw::console_tls {
namespace {

namespace net = boost::asio;
namespace ssl = net::ssl;
using namespace net::experimental::awaitable_operators;
using namespace std::chrono_literals;
using net::ip::tcp;
using local = net::local::stream_protocol;
using stream::error_code;

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// Passed as an lvalue: GCC 12 mis-destroys temporaries given to coroutines.
const stream::EndReason done{};

// Bytes that show where they came from when they arrive out of order.
std::string pattern(std::size_t size, unsigned seed) {
  std::string data(size, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (char& c : data) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return data;
}

// The console's side: certificates, and what it asks of the client.
struct ServerOptions {
  bool require_client_cert = false;
  bool tls12_only = false;
  const char* tls12_ciphers = nullptr;  // TLS 1.2 suites offered (default: OpenSSL's)
};

ServerOptions requiring_client_cert() {
  ServerOptions options;
  options.require_client_cert = true;
  return options;
}

ServerOptions tls12(const char* ciphers = nullptr) {
  ServerOptions options;
  options.tls12_only = true;
  options.tls12_ciphers = ciphers;
  return options;
}

class TlsClientStreamTest : public ::testing::Test {
 protected:
  TlsClientStreamTest()
      : ca_(test::make_ca(scratch_, "ca")),
        other_ca_(test::make_ca(scratch_, "other-ca")),
        server_(test::issue_certificate(scratch_, ca_, "server", test::server_spec())),
        client_(test::issue_certificate(scratch_, ca_, "client", test::client_spec())),
        acceptor_(ioc_, tcp::endpoint(net::ip::address_v4::loopback(), 0)) {}

  std::unique_ptr<ssl::context> server_context(const test::CertFiles& cert,
                                               ServerOptions options = {}) {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->use_certificate_chain_file(cert.cert);
    ctx->use_private_key_file(cert.key, ssl::context::pem);
    if (options.require_client_cert) {
      ctx->load_verify_file(ca_.cert);
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    if (options.tls12_only) SSL_CTX_set_max_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    if (options.tls12_ciphers) SSL_CTX_set_cipher_list(ctx->native_handle(), options.tls12_ciphers);
    return ctx;
  }

  std::shared_ptr<const ClientContext> client_context(bool with_cert = false) {
    TlsClientSettings settings;
    settings.ca_file = ca_.cert;
    if (with_cert) {
      settings.cert_file = client_.cert;
      settings.key_file = client_.key;
    }
    return ClientContext::load(settings);
  }

  // Runs the io_context until both futures are ready (60 s at most).
  template <class A, class B>
  void run(std::future<A>& a, std::future<B>& b) {
    ioc_.run_for(60s);
    ASSERT_EQ(a.wait_for(0s), std::future_status::ready) << "first side did not finish";
    ASSERT_EQ(b.wait_for(0s), std::future_status::ready) << "second side did not finish";
  }

  test::Scratch scratch_;
  test::CertFiles ca_;
  test::CertFiles other_ca_;
  test::CertFiles server_;
  test::CertFiles client_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
};

using TcpTls = ssl::stream<tcp::socket>;

net::awaitable<std::unique_ptr<TcpTls>> accept_tls(tcp::acceptor& acceptor, ssl::context& ctx) {
  auto tls = std::make_unique<TcpTls>(co_await acceptor.async_accept(net::use_awaitable), ctx);
  co_await tls->async_handshake(ssl::stream_base::server, net::use_awaitable);
  co_return tls;
}

// A TlsClientStream over a fresh TCP connection to `to`, handshake done.
struct Connected {
  std::unique_ptr<TlsClientStream> stream;
  HandshakeResult handshake;
};

net::awaitable<Connected> connect_tls(tcp::endpoint to, std::shared_ptr<const ClientContext> ctx,
                                      std::string name) {
  tcp::socket socket(co_await net::this_coro::executor);
  co_await socket.async_connect(to, net::use_awaitable);
  Connected c;
  c.stream = std::make_unique<TlsClientStream>(
      std::make_unique<stream::SocketStream<tcp::socket>>(std::move(socket)), std::move(ctx),
      std::move(name));
  c.handshake = co_await c.stream->handshake();
  co_return c;
}

// Reads exactly `size` bytes from a ByteStream, `chunk` at a time.
net::awaitable<std::string> read_exactly(stream::ByteStream& from, std::size_t size,
                                         std::size_t chunk) {
  std::string got;
  std::vector<char> buf(chunk);
  while (got.size() < size) {
    if (from.can_wait_readable()) {
      if (const error_code ec = co_await from.wait_readable())
        throw boost::system::system_error(ec);
    }
    auto [ec, n] =
        co_await from.read_some(net::buffer(buf.data(), std::min(chunk, size - got.size())));
    if (ec) throw boost::system::system_error(ec);
    got.append(buf.data(), n);
  }
  co_return got;
}

// Writes `data` in pieces of `chunk` (0: in one write).
net::awaitable<void> write_all(stream::ByteStream& to, std::string data, std::size_t chunk) {
  if (chunk == 0) chunk = data.size();
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    const error_code ec =
        co_await to.write(net::buffer(data.data() + at, std::min(chunk, data.size() - at)));
    if (ec) throw boost::system::system_error(ec);
  }
}

// What the next read brings when only an ending is left.
net::awaitable<error_code> read_end(stream::ByteStream& from) {
  char byte;
  for (;;) {
    auto [ec, n] = co_await from.read_some(net::buffer(&byte, 1));
    if (ec || n != 0) co_return ec;
  }
}

// The console: sends `to_send` while reading `expect` bytes, then closes in order.
template <class Tls>
net::awaitable<std::string> serve_exchange(Tls& tls, std::string to_send, std::size_t expect) {
  std::string got(expect, '\0');
  auto reader = [&]() -> net::awaitable<void> {
    co_await net::async_read(tls, net::buffer(got), net::use_awaitable);
  };
  auto writer = [&]() -> net::awaitable<void> {
    co_await net::async_write(tls, net::buffer(to_send), net::use_awaitable);
  };
  co_await (reader() && writer());
  co_await tls.async_shutdown(use_tuple);
  co_return got;
}

net::awaitable<std::string> tcp_console(tcp::acceptor& acceptor, ssl::context& ctx,
                                        std::string to_send, std::size_t expect) {
  auto tls = co_await accept_tls(acceptor, ctx);
  co_return co_await serve_exchange(*tls, std::move(to_send), expect);
}

// The gateway: the same exchange from its side, then its close().
net::awaitable<std::string> gateway_exchange(TlsClientStream& tls, std::string to_send,
                                             std::size_t expect, std::size_t write_chunk,
                                             std::size_t read_chunk) {
  std::string got;
  auto reader = [&]() -> net::awaitable<void> {
    got = co_await read_exactly(tls, expect, read_chunk);
  };
  co_await (reader() && write_all(tls, std::move(to_send), write_chunk));
  // The console's close_notify, then ours.
  EXPECT_EQ(co_await read_end(tls), net::error::eof);
  co_await tls.close(done);
  co_return got;
}

net::awaitable<std::string> tcp_gateway(tcp::endpoint to, std::shared_ptr<const ClientContext> ctx,
                                        std::string name, std::string to_send, std::size_t expect,
                                        std::size_t write_chunk, std::size_t read_chunk) {
  Connected c = co_await connect_tls(to, std::move(ctx), std::move(name));
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  co_return co_await gateway_exchange(*c.stream, std::move(to_send), expect, write_chunk,
                                      read_chunk);
}

TEST_F(TlsClientStreamTest, BulkBothWaysOverTcp) {
  constexpr std::size_t size = 8 * 1024 * 1024;
  const std::string up = pattern(size, 1);
  const std::string down = pattern(size, 2);
  auto sctx = server_context(server_);
  auto console = net::co_spawn(ioc_, tcp_console(acceptor_, *sctx, down, size), net::use_future);
  auto gateway = net::co_spawn(ioc_,
                               tcp_gateway(acceptor_.local_endpoint(), client_context(),
                                           "127.0.0.1", up, size, 64 * 1024, 64 * 1024),
                               net::use_future);
  run(console, gateway);
  EXPECT_TRUE(console.get() == up);
  EXPECT_TRUE(gateway.get() == down);
}

TEST_F(TlsClientStreamTest, LargeWritesInOneCallAndSmallReads) {
  const std::string up = pattern(3 * 1024 * 1024 + 17, 3);
  const std::string down = pattern(100 * 1000, 4);
  auto sctx = server_context(server_);
  auto console =
      net::co_spawn(ioc_, tcp_console(acceptor_, *sctx, down, up.size()), net::use_future);
  auto gateway = net::co_spawn(
      ioc_,
      tcp_gateway(acceptor_.local_endpoint(), client_context(), "localhost", up, down.size(), 0, 7),
      net::use_future);
  run(console, gateway);
  EXPECT_TRUE(console.get() == up);
  EXPECT_TRUE(gateway.get() == down);
}

TEST_F(TlsClientStreamTest, Tls12WithEcdheAead) {
  auto sctx = server_context(server_, tls12());
  auto console = net::co_spawn(ioc_, tcp_console(acceptor_, *sctx, "hello", 5), net::use_future);
  auto gateway = net::co_spawn(
      ioc_,
      tcp_gateway(acceptor_.local_endpoint(), client_context(), "127.0.0.1", "world", 5, 0, 64),
      net::use_future);
  run(console, gateway);
  EXPECT_EQ(console.get(), "world");
  EXPECT_EQ(gateway.get(), "hello");
}

// The console's side of a handshake expected to fail: its error.
net::awaitable<error_code> refusing_console(tcp::acceptor& acceptor, ssl::context& ctx) {
  TcpTls tls(co_await acceptor.async_accept(net::use_awaitable), ctx);
  auto [ec] = co_await tls.async_handshake(ssl::stream_base::server, use_tuple);
  if (!ec) {
    // TLS 1.3: the server checks the client's certificate after the client
    // has finished; read, to see the refusal go out.
    char byte;
    auto [read_error, n] = co_await tls.async_read_some(net::buffer(&byte, 1), use_tuple);
    (void)n;
    ec = read_error;
  }
  co_return ec;
}

net::awaitable<HandshakeResult> handshake_only(tcp::endpoint to,
                                               std::shared_ptr<const ClientContext> ctx,
                                               std::string name) {
  Connected c = co_await connect_tls(to, std::move(ctx), std::move(name));
  c.stream->abort();
  co_return c.handshake;
}

class RefusalTest : public TlsClientStreamTest {
 protected:
  HandshakeResult refused(const test::CertFiles& server_cert,
                          std::shared_ptr<const ClientContext> ctx, std::string name,
                          ServerOptions options = {}) {
    auto sctx = server_context(server_cert, options);
    auto console = net::co_spawn(ioc_, refusing_console(acceptor_, *sctx), net::use_future);
    auto gateway = net::co_spawn(
        ioc_, handshake_only(acceptor_.local_endpoint(), std::move(ctx), std::move(name)),
        net::use_future);
    run(console, gateway);
    EXPECT_TRUE(console.get()) << "the console's handshake should have failed";
    return gateway.get();
  }
};

TEST_F(RefusalTest, CertificateFromAnotherCaIsUntrusted) {
  const auto ctx = ClientContext::load(TlsClientSettings{other_ca_.cert, "", ""});
  const HandshakeResult r = refused(server_, ctx, "127.0.0.1");
  EXPECT_TRUE(r.error);
  EXPECT_TRUE(r.untrusted);
  EXPECT_EQ(r.reason, "console certificate not trusted (unable to get local issuer certificate)");
}

TEST_F(RefusalTest, IpAddressNotInCertificate) {
  const HandshakeResult r = refused(server_, client_context(), "127.0.0.2");
  EXPECT_TRUE(r.untrusted);
  EXPECT_EQ(r.reason, "console certificate does not match 127.0.0.2");
}

TEST_F(RefusalTest, DnsNameNotInCertificate) {
  const HandshakeResult r = refused(server_, client_context(), "console.example");
  EXPECT_TRUE(r.untrusted);
  EXPECT_EQ(r.reason, "console certificate does not match console.example");
}

TEST_F(RefusalTest, ExpiredCertificate) {
  const test::CertFiles expired =
      test::issue_certificate(scratch_, ca_, "expired", test::expired_server_spec());
  const HandshakeResult r = refused(expired, client_context(), "127.0.0.1");
  EXPECT_TRUE(r.untrusted);
  EXPECT_EQ(r.reason, "console certificate not trusted (certificate has expired)");
}

TEST_F(RefusalTest, Tls12WithoutAeadIsRefused) {
  const HandshakeResult r =
      refused(server_, client_context(), "127.0.0.1", tls12("ECDHE-ECDSA-AES128-SHA256"));
  EXPECT_TRUE(r.error);
  EXPECT_FALSE(r.untrusted);
  EXPECT_EQ(r.reason.rfind("TLS handshake with the console failed (", 0), 0u) << r.reason;
}

// A console that does not speak TLS (a VNC server's greeting).
net::awaitable<void> plain_console(tcp::acceptor& acceptor) {
  tcp::socket socket = co_await acceptor.async_accept(net::use_awaitable);
  co_await net::async_write(socket, net::buffer("RFB 003.008\n", 12), net::use_awaitable);
  char buf[512];
  co_await socket.async_read_some(net::buffer(buf), use_tuple);
}

TEST_F(TlsClientStreamTest, ConsoleThatDoesNotSpeakTls) {
  auto console = net::co_spawn(ioc_, plain_console(acceptor_), net::use_future);
  auto gateway =
      net::co_spawn(ioc_, handshake_only(acceptor_.local_endpoint(), client_context(), "127.0.0.1"),
                    net::use_future);
  run(console, gateway);
  console.get();
  const HandshakeResult r = gateway.get();
  EXPECT_TRUE(r.error);
  EXPECT_FALSE(r.untrusted);
  EXPECT_EQ(r.reason.rfind("TLS handshake with the console failed (", 0), 0u) << r.reason;
  std::printf("reason: %s\n", r.reason.c_str());
}

TEST_F(TlsClientStreamTest, ClientCertificateGivenWhenRequired) {
  auto sctx = server_context(server_, requiring_client_cert());
  auto console = net::co_spawn(ioc_, tcp_console(acceptor_, *sctx, "ok", 2), net::use_future);
  auto gateway = net::co_spawn(
      ioc_,
      tcp_gateway(acceptor_.local_endpoint(), client_context(true), "127.0.0.1", "hi", 2, 0, 64),
      net::use_future);
  run(console, gateway);
  EXPECT_EQ(console.get(), "hi");
  EXPECT_EQ(gateway.get(), "ok");
}

// Without a client certificate: TLS 1.3 finishes the client's handshake before
// the server checks, so the refusal arrives at the first read.
net::awaitable<std::pair<HandshakeResult, error_code>> gateway_without_certificate(
    tcp::endpoint to, std::shared_ptr<const ClientContext> ctx) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  error_code read_error;
  if (!c.handshake.error) read_error = co_await read_end(*c.stream);
  c.stream->abort();
  co_return std::pair{c.handshake, read_error};
}

TEST_F(TlsClientStreamTest, ClientCertificateMissingWhenRequired) {
  auto sctx = server_context(server_, requiring_client_cert());
  auto console = net::co_spawn(ioc_, refusing_console(acceptor_, *sctx), net::use_future);
  auto gateway = net::co_spawn(
      ioc_, gateway_without_certificate(acceptor_.local_endpoint(), client_context(false)),
      net::use_future);
  run(console, gateway);
  EXPECT_TRUE(console.get());
  const auto [handshake, read_error] = gateway.get();
  EXPECT_FALSE(handshake.untrusted);
  if (handshake.error) {
    EXPECT_EQ(handshake.reason.rfind("TLS handshake with the console failed (", 0), 0u);
  } else {
    EXPECT_TRUE(read_error);
    EXPECT_NE(read_error, net::error::eof);
    EXPECT_EQ(read_error.category(), net::error::get_ssl_category()) << read_error.message();
  }
}

// The console sends `data`, then either closes in order or cuts the connection.
net::awaitable<void> ending_console(tcp::acceptor& acceptor, ssl::context& ctx, std::string data,
                                    bool close_notify) {
  auto tls = co_await accept_tls(acceptor, ctx);
  co_await net::async_write(*tls, net::buffer(data), net::use_awaitable);
  if (close_notify) {
    co_await tls->async_shutdown(use_tuple);
  } else {
    tls->lowest_layer().close();
  }
}

net::awaitable<std::pair<std::string, error_code>> gateway_reading_to_end(
    tcp::endpoint to, std::shared_ptr<const ClientContext> ctx) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  std::string got;
  char buf[1000];
  for (;;) {
    if (const error_code ec = co_await c.stream->wait_readable()) co_return std::pair{got, ec};
    auto [ec, n] = co_await c.stream->read_some(net::buffer(buf));
    if (ec) {
      co_await c.stream->close(done);
      co_return std::pair{got, ec};
    }
    got.append(buf, n);
  }
}

TEST_F(TlsClientStreamTest, CloseNotifyIsEof) {
  auto sctx = server_context(server_);
  const std::string data = pattern(50000, 5);
  auto console = net::co_spawn(ioc_, ending_console(acceptor_, *sctx, data, true), net::use_future);
  auto gateway = net::co_spawn(
      ioc_, gateway_reading_to_end(acceptor_.local_endpoint(), client_context()), net::use_future);
  run(console, gateway);
  console.get();
  const auto [got, ec] = gateway.get();
  EXPECT_TRUE(got == data);
  EXPECT_EQ(ec, net::error::eof) << ec.message();
}

TEST_F(TlsClientStreamTest, CutWithoutCloseNotifyIsTruncated) {
  auto sctx = server_context(server_);
  const std::string data = pattern(50000, 6);
  auto console =
      net::co_spawn(ioc_, ending_console(acceptor_, *sctx, data, false), net::use_future);
  auto gateway = net::co_spawn(
      ioc_, gateway_reading_to_end(acceptor_.local_endpoint(), client_context()), net::use_future);
  run(console, gateway);
  console.get();
  const auto [got, ec] = gateway.get();
  EXPECT_TRUE(got == data);
  EXPECT_EQ(ec, ssl::error::stream_truncated) << ec.message();
}

// close() from the gateway's side: the console reads a close_notify (eof).
net::awaitable<error_code> console_reading_to_end(tcp::acceptor& acceptor, ssl::context& ctx) {
  auto tls = co_await accept_tls(acceptor, ctx);
  char buf[100];
  for (;;) {
    auto [ec, n] = co_await tls->async_read_some(net::buffer(buf), use_tuple);
    (void)n;
    if (ec) co_return ec;
  }
}

net::awaitable<void> gateway_closing(tcp::endpoint to, std::shared_ptr<const ClientContext> ctx) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  co_await write_all(*c.stream, "bye", 0);
  co_await c.stream->close(done);
}

TEST_F(TlsClientStreamTest, CloseSendsCloseNotify) {
  auto sctx = server_context(server_);
  auto console = net::co_spawn(ioc_, console_reading_to_end(acceptor_, *sctx), net::use_future);
  auto gateway = net::co_spawn(ioc_, gateway_closing(acceptor_.local_endpoint(), client_context()),
                               net::use_future);
  run(console, gateway);
  gateway.get();
  EXPECT_EQ(console.get(), net::error::eof);
}

// Over a UNIX socket pair: the transport is any ByteStream.
net::awaitable<std::string> unix_console(local::socket socket, ssl::context& ctx,
                                         std::string to_send, std::size_t expect) {
  ssl::stream<local::socket> tls(std::move(socket), ctx);
  co_await tls.async_handshake(ssl::stream_base::server, net::use_awaitable);
  co_return co_await serve_exchange(tls, std::move(to_send), expect);
}

net::awaitable<std::string> unix_gateway(local::socket socket,
                                         std::shared_ptr<const ClientContext> ctx,
                                         std::string to_send, std::size_t expect) {
  TlsClientStream tls(std::make_unique<stream::SocketStream<local::socket>>(std::move(socket)),
                      std::move(ctx), "localhost");
  const HandshakeResult h = co_await tls.handshake();
  if (h.error) throw std::runtime_error(h.reason);
  co_return co_await gateway_exchange(tls, std::move(to_send), expect, 64 * 1024, 64 * 1024);
}

TEST_F(TlsClientStreamTest, OverUnixSocketPair) {
  local::socket a(ioc_), b(ioc_);
  net::local::connect_pair(a, b);
  const std::string up = pattern(1024 * 1024, 7);
  const std::string down = pattern(1024 * 1024 + 3, 8);
  auto sctx = server_context(server_);
  auto console =
      net::co_spawn(ioc_, unix_console(std::move(b), *sctx, down, up.size()), net::use_future);
  auto gateway = net::co_spawn(ioc_, unix_gateway(std::move(a), client_context(), up, down.size()),
                               net::use_future);
  run(console, gateway);
  EXPECT_TRUE(console.get() == up);
  EXPECT_TRUE(gateway.get() == down);
}

// TLS 1.3 session tickets arrive after the handshake without data: a read
// consumes them and brings 0 bytes, and the next wait really waits (no spin)
// until the console sends.
net::awaitable<void> late_console(tcp::acceptor& acceptor, ssl::context& ctx) {
  auto tls = co_await accept_tls(acceptor, ctx);
  net::steady_timer timer(co_await net::this_coro::executor, 200ms);
  co_await timer.async_wait(net::use_awaitable);
  co_await net::async_write(*tls, net::buffer("hello", 5), net::use_awaitable);
  co_await tls->async_shutdown(use_tuple);
}

net::awaitable<int> gateway_counting_wakeups(tcp::endpoint to,
                                             std::shared_ptr<const ClientContext> ctx) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  EXPECT_TRUE(c.stream->can_wait_readable());
  int wakeups = 0;
  char buf[64];
  for (;;) {
    ++wakeups;
    EXPECT_FALSE(co_await c.stream->wait_readable());
    auto [ec, n] = co_await c.stream->read_some(net::buffer(buf));
    EXPECT_FALSE(ec) << ec.message();
    if (ec || n != 0) {
      EXPECT_EQ(std::string(buf, n), "hello");
      break;
    }
  }
  EXPECT_EQ(co_await read_end(*c.stream), net::error::eof);
  co_await c.stream->close(done);
  co_return wakeups;
}

TEST_F(TlsClientStreamTest, WaitsWithoutSpinningAfterSessionTickets) {
  auto sctx = server_context(server_);
  auto console = net::co_spawn(ioc_, late_console(acceptor_, *sctx), net::use_future);
  auto gateway =
      net::co_spawn(ioc_, gateway_counting_wakeups(acceptor_.local_endpoint(), client_context()),
                    net::use_future);
  run(console, gateway);
  console.get();
  EXPECT_LE(gateway.get(), 5);
}

// A key update the console asks to be answered arrives while the gateway's
// large write is in flight (the console does not read yet). OpenSSL answers
// it with the gateway's next write, before that write's data: the console
// reads everything, in order, under the new keys.
net::awaitable<std::string> rekeying_console(tcp::acceptor& acceptor, ssl::context& ctx,
                                             std::size_t expect) {
  auto tls = co_await accept_tls(acceptor, ctx);
  EXPECT_EQ(SSL_version(tls->native_handle()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_key_update(tls->native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
  co_await net::async_write(*tls, net::buffer("rekeyed", 7), net::use_awaitable);
  net::steady_timer timer(co_await net::this_coro::executor, 300ms);
  co_await timer.async_wait(net::use_awaitable);
  std::string got(expect, '\0');
  co_await net::async_read(*tls, net::buffer(got), net::use_awaitable);
  co_await tls->async_shutdown(use_tuple);
  co_return got;
}

net::awaitable<std::string> gateway_writing_while_rekeyed(tcp::endpoint to,
                                                          std::shared_ptr<const ClientContext> ctx,
                                                          std::string to_send, std::string then) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  std::string got;
  auto reader = [&]() -> net::awaitable<void> { got = co_await read_exactly(*c.stream, 7, 64); };
  co_await (write_all(*c.stream, std::move(to_send), 0) && reader());
  co_await write_all(*c.stream, std::move(then), 0);
  EXPECT_EQ(co_await read_end(*c.stream), net::error::eof);
  co_await c.stream->close(done);
  co_return got;
}

TEST_F(TlsClientStreamTest, KeyUpdateDuringAWriteInFlight) {
  const std::string up = pattern(16 * 1024 * 1024, 9);
  auto sctx = server_context(server_);
  auto console =
      net::co_spawn(ioc_, rekeying_console(acceptor_, *sctx, up.size() + 5), net::use_future);
  auto gateway = net::co_spawn(
      ioc_,
      gateway_writing_while_rekeyed(acceptor_.local_endpoint(), client_context(), up, "after"),
      net::use_future);
  run(console, gateway);
  EXPECT_TRUE(console.get() == up + "after");
  EXPECT_EQ(gateway.get(), "rekeyed");
}

// A read that makes a record of its own while a write is in flight: the TLS
// 1.2 console asks to renegotiate, and the gateway's read answers with a
// no_renegotiation alert. The alert waits behind the write in flight (it may
// not cut into its bytes); the console reads all the data intact first.
net::awaitable<std::string> renegotiating_console(tcp::acceptor& acceptor, ssl::context& ctx,
                                                  std::size_t expect) {
  auto tls = co_await accept_tls(acceptor, ctx);
  EXPECT_EQ(SSL_version(tls->native_handle()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_renegotiate(tls->native_handle()), 1);
  co_await net::async_write(*tls, net::buffer("renego?", 7), net::use_awaitable);
  net::steady_timer timer(co_await net::this_coro::executor, 300ms);
  co_await timer.async_wait(net::use_awaitable);
  std::string got(expect, '\0');
  co_await net::async_read(*tls, net::buffer(got), net::use_awaitable);
  // What follows the data: the alert (OpenSSL ends the connection on it).
  char byte;
  auto [ec, n] = co_await tls->async_read_some(net::buffer(&byte, 1), use_tuple);
  EXPECT_TRUE(ec);
  EXPECT_EQ(n, 0u);
  co_return got;
}

net::awaitable<std::string> gateway_writing_while_renegotiated(
    tcp::endpoint to, std::shared_ptr<const ClientContext> ctx, std::string to_send) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  std::string got;
  auto reader = [&]() -> net::awaitable<void> { got = co_await read_exactly(*c.stream, 7, 64); };
  co_await (write_all(*c.stream, std::move(to_send), 0) && reader());
  c.stream->abort();
  co_return got;
}

TEST_F(TlsClientStreamTest, AlertFromAReadWaitsForTheWriteInFlight) {
  const std::string up = pattern(16 * 1024 * 1024, 12);
  auto sctx = server_context(server_, tls12());
  auto console =
      net::co_spawn(ioc_, renegotiating_console(acceptor_, *sctx, up.size()), net::use_future);
  auto gateway = net::co_spawn(
      ioc_, gateway_writing_while_renegotiated(acceptor_.local_endpoint(), client_context(), up),
      net::use_future);
  run(console, gateway);
  EXPECT_TRUE(console.get() == up);
  EXPECT_EQ(gateway.get(), "renego?");
}

// The pump between a browser-side socket and the TLS console (an echo).
net::awaitable<void> echo_console(tcp::acceptor& acceptor, ssl::context& ctx) {
  auto tls = co_await accept_tls(acceptor, ctx);
  std::vector<char> buf(64 * 1024);
  for (;;) {
    auto [ec, n] = co_await tls->async_read_some(net::buffer(buf), use_tuple);
    if (ec) co_return;
    co_await net::async_write(*tls, net::buffer(buf.data(), n), net::use_awaitable);
  }
}

net::awaitable<stream::PumpResult> pumping_gateway(tcp::endpoint to,
                                                   std::shared_ptr<const ClientContext> ctx,
                                                   local::socket browser) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  stream::SocketStream<local::socket> client(std::move(browser));
  const stream::PumpOptions options;
  co_return co_await stream::pump(client, *c.stream, options);
}

net::awaitable<std::string> browser(local::socket socket, std::string data) {
  std::string got(data.size(), '\0');
  auto reader = [&]() -> net::awaitable<void> {
    co_await net::async_read(socket, net::buffer(got), net::use_awaitable);
  };
  auto writer = [&]() -> net::awaitable<void> {
    co_await net::async_write(socket, net::buffer(data), net::use_awaitable);
  };
  co_await (reader() && writer());
  socket.close();
  co_return got;
}

TEST_F(TlsClientStreamTest, PumpedEcho) {
  local::socket gateway_end(ioc_), browser_end(ioc_);
  net::local::connect_pair(gateway_end, browser_end);
  const std::string data = pattern(4 * 1024 * 1024, 10);
  auto sctx = server_context(server_);
  net::co_spawn(ioc_, echo_console(acceptor_, *sctx), net::detached);
  auto gateway = net::co_spawn(
      ioc_, pumping_gateway(acceptor_.local_endpoint(), client_context(), std::move(gateway_end)),
      net::use_future);
  auto user = net::co_spawn(ioc_, browser(std::move(browser_end), data), net::use_future);
  run(gateway, user);
  EXPECT_TRUE(user.get() == data);
  const stream::PumpResult result = gateway.get();
  EXPECT_EQ(result.client_to_console, data.size());
  EXPECT_EQ(result.console_to_client, data.size());
}

// One way, 64 MiB, 64 KiB writes: the figure printed is loopback throughput
// with both ends in this one thread (encryption and decryption both counted),
// until the console has read everything and said so.
net::awaitable<std::size_t> draining_console(tcp::acceptor& acceptor, ssl::context& ctx,
                                             std::size_t expect) {
  auto tls = co_await accept_tls(acceptor, ctx);
  std::vector<char> buf(64 * 1024);
  std::size_t total = 0;
  while (total < expect) {
    auto [ec, n] = co_await tls->async_read_some(net::buffer(buf), use_tuple);
    total += n;
    if (ec) co_return total;
  }
  co_await net::async_write(*tls, net::buffer("k", 1), net::use_awaitable);
  co_await tls->async_shutdown(use_tuple);
  co_return total;
}

net::awaitable<void> gateway_sending(tcp::endpoint to, std::shared_ptr<const ClientContext> ctx,
                                     std::size_t total) {
  Connected c = co_await connect_tls(to, std::move(ctx), "127.0.0.1");
  if (c.handshake.error) throw std::runtime_error(c.handshake.reason);
  const std::string chunk = pattern(64 * 1024, 11);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t sent = 0; sent < total; sent += chunk.size()) {
    if (const error_code ec = co_await c.stream->write(net::buffer(chunk)))
      throw boost::system::system_error(ec);
  }
  EXPECT_EQ(co_await read_exactly(*c.stream, 1, 1), "k");
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("console TLS one way: %.0f MiB/s\n",
              static_cast<double>(total) / (1024 * 1024) / took.count());
  EXPECT_EQ(co_await read_end(*c.stream), net::error::eof);
  co_await c.stream->close(done);
}

TEST_F(TlsClientStreamTest, Throughput) {
  constexpr std::size_t total = 64 * 1024 * 1024;
  auto sctx = server_context(server_);
  auto console = net::co_spawn(ioc_, draining_console(acceptor_, *sctx, total), net::use_future);
  auto gateway = net::co_spawn(
      ioc_, gateway_sending(acceptor_.local_endpoint(), client_context(), total), net::use_future);
  run(console, gateway);
  gateway.get();
  EXPECT_EQ(console.get(), total);
}

TEST_F(TlsClientStreamTest, RefusesAnEmptyName) {
  tcp::socket socket(ioc_);
  EXPECT_THROW(
      TlsClientStream(std::make_unique<stream::SocketStream<tcp::socket>>(std::move(socket)),
                      client_context(), ""),
      std::invalid_argument);
}

}  // namespace
}  // namespace cgw::console_tls
