#include "bench/backend.hpp"

#include "bench/descriptors.hpp"
#include "bench/rfb.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

namespace cgw::bench {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Mode = BackendOptions::Mode;
using error_code = boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::string_view rfb_greeting = "RFB 003.008\n";

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::source:
      return "source";
    case Mode::sink:
      return "sink";
    case Mode::echo:
      return "echo";
    case Mode::rfb:
      return "rfb";
    case Mode::vnc_source:
      return "vnc-source";
    case Mode::vnc_sink:
      return "vnc-sink";
  }
  return "?";
}

// Every source connection sends from this one buffer: the backend should cost
// the kernel's copy and nothing more.
const std::vector<char>& source_data(std::size_t size) {
  static const std::vector<char> data = [size] {
    std::vector<char> d(size);
    for (std::size_t i = 0; i < size; ++i) d[i] = static_cast<char>('a' + i % 26);
    return d;
  }();
  return data;
}

net::awaitable<void> source(tcp::socket socket, std::uint64_t limit, std::size_t chunk) {
  const std::vector<char>& data = source_data(chunk);
  std::uint64_t sent = 0;
  while (limit == 0 || sent < limit) {
    const std::size_t n =
        limit == 0 ? data.size()
                   : static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), limit - sent));
    auto [ec, written] = co_await net::async_write(socket, net::buffer(data.data(), n), use_tuple);
    if (ec) co_return;
    sent += written;
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  // Let the peer read the rest and close first.
  char byte;
  co_await socket.async_read_some(net::buffer(&byte, 1), use_tuple);
}

net::awaitable<void> sink(tcp::socket socket, std::uint64_t ack_every) {
  auto buffer = std::make_unique_for_overwrite<char[]>(256 * 1024);
  std::uint64_t total = 0;
  std::uint64_t next_ack = ack_every;
  std::array<unsigned char, 8> ack{};
  for (;;) {
    auto [ec, n] =
        co_await socket.async_read_some(net::buffer(buffer.get(), 256 * 1024), use_tuple);
    if (ec) co_return;
    total += n;
    if (ack_every != 0 && total >= next_ack) {
      while (next_ack <= total) next_ack += ack_every;
      for (int i = 0; i < 8; ++i) ack[i] = static_cast<unsigned char>(total >> (8 * i));
      auto [write_error, written] = co_await net::async_write(socket, net::buffer(ack), use_tuple);
      (void)written;
      if (write_error) co_return;
    }
  }
}

net::awaitable<void> echo(tcp::socket socket, bool greet) {
  if (greet) {
    auto [ec, n] = co_await net::async_write(socket, net::buffer(rfb_greeting), use_tuple);
    (void)n;
    if (ec) co_return;
  }
  // Small until there is traffic: 8,000 idle RFB sessions should cost the
  // backend little.
  std::size_t size = 4096;
  auto buffer = std::make_unique_for_overwrite<char[]>(size);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(buffer.get(), size), use_tuple);
    if (ec) co_return;
    auto [write_error, written] =
        co_await net::async_write(socket, net::buffer(buffer.get(), n), use_tuple);
    (void)written;
    if (write_error) co_return;
    if (n == size && size < 256 * 1024) {
      size = 256 * 1024;
      buffer = std::make_unique_for_overwrite<char[]>(size);
    }
  }
}

// The VNC server's side of the handshake, security None, up to ServerInit.
// False when the client went away or spoke something else.
net::awaitable<bool> vnc_handshake(tcp::socket& socket) {
  auto [ec1, n1] = co_await net::async_write(socket, net::buffer(rfb::version), use_tuple);
  std::array<char, 12> version{};
  auto [ec2, n2] = co_await net::async_read(socket, net::buffer(version), use_tuple);
  if (ec1 || ec2 || std::string_view(version.data(), version.size()) != rfb::version) {
    co_return false;
  }
  const std::array<std::uint8_t, 2> types = {1, rfb::security_none};
  auto [ec3, n3] = co_await net::async_write(socket, net::buffer(types), use_tuple);
  std::uint8_t choice = 0;
  auto [ec4, n4] = co_await net::async_read(socket, net::buffer(&choice, 1), use_tuple);
  if (ec3 || ec4 || choice != rfb::security_none) co_return false;
  const std::array<std::uint8_t, 4> ok{};
  auto [ec5, n5] = co_await net::async_write(socket, net::buffer(ok), use_tuple);
  std::uint8_t shared = 0;  // ClientInit: any value will do
  auto [ec6, n6] = co_await net::async_read(socket, net::buffer(&shared, 1), use_tuple);
  if (ec5 || ec6) co_return false;
  static const std::vector<std::uint8_t> init = rfb::server_init();
  auto [ec7, n7] = co_await net::async_write(socket, net::buffer(init), use_tuple);
  (void)n1, (void)n2, (void)n3, (void)n4, (void)n5, (void)n6, (void)n7;
  co_return !ec7;
}

// What the client sent is read and parsed as it arrives; the updates wait for
// its first FramebufferUpdateRequest, as a VNC server's do.
net::awaitable<void> vnc_source(tcp::socket socket, std::size_t chunk) {
  if (!co_await vnc_handshake(socket)) co_return;
  rfb::ClientParser parser;
  std::array<std::uint8_t, 256> buffer{};
  while (parser.counts().update_requests == 0) {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(buffer), use_tuple);
    if (ec) co_return;
    if (!parser.feed(buffer.data(), n)) {
      std::cerr << "cgw-bench backend vnc-source: " << parser.error() << "\n";
      co_return;
    }
  }
  const std::vector<std::uint8_t>& update = rfb::framebuffer_update();
  for (;;) {
    for (std::size_t offset = 0; offset < update.size(); offset += chunk) {
      const std::size_t n = std::min(chunk, update.size() - offset);
      auto [ec, written] =
          co_await net::async_write(socket, net::buffer(update.data() + offset, n), use_tuple);
      (void)written;
      if (ec) co_return;
    }
  }
}

net::awaitable<void> vnc_sink(tcp::socket socket, std::uint64_t ack_every) {
  if (!co_await vnc_handshake(socket)) co_return;
  constexpr std::uint64_t ack_requests = 65536;
  auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(256 * 1024);
  rfb::ClientParser parser;
  std::uint64_t acked_bytes = 0, acked_requests = 0;
  for (;;) {
    auto [ec, n] =
        co_await socket.async_read_some(net::buffer(buffer.get(), 256 * 1024), use_tuple);
    if (ec) break;
    if (!parser.feed(buffer.get(), n)) {
      std::cerr << "cgw-bench backend vnc-sink: " << parser.error() << "\n";
      break;
    }
    const rfb::ClientCounts& c = parser.counts();
    if (ack_every != 0 && (c.bytes - acked_bytes >= ack_every ||
                           c.update_requests - acked_requests >= ack_requests)) {
      acked_bytes = c.bytes;
      acked_requests = c.update_requests;
      const auto ack = rfb::ack_message(acked_bytes, acked_requests);
      auto [write_error, written] = co_await net::async_write(socket, net::buffer(ack), use_tuple);
      (void)written;
      if (write_error) break;
    }
  }
  // One line a session, so that a script can see what reached the console.
  std::cout << "vnc-sink session: " + parser.summary() + "\n" << std::flush;
}

net::awaitable<void> serve(tcp::socket socket, const BackendOptions& options) {
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  switch (options.mode) {
    case Mode::source:
      co_await source(std::move(socket), options.bytes, options.chunk);
      break;
    case Mode::sink:
      co_await sink(std::move(socket), options.ack_every);
      break;
    case Mode::echo:
      co_await echo(std::move(socket), false);
      break;
    case Mode::rfb:
      co_await echo(std::move(socket), true);
      break;
    case Mode::vnc_source:
      co_await vnc_source(std::move(socket), options.chunk);
      break;
    case Mode::vnc_sink:
      co_await vnc_sink(std::move(socket), options.ack_every);
      break;
  }
}

// Accepts until the acceptor closes; EMFILE and the like are waited out.
net::awaitable<void> accept_loop(tcp::acceptor& acceptor, const BackendOptions& options) {
  net::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (!acceptor.is_open()) co_return;
    if (ec) {
      std::cerr << "cgw-bench backend: accept: " << ec.message() << "\n";
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(use_tuple);
      continue;
    }
    net::co_spawn(acceptor.get_executor(), serve(std::move(socket), options), net::detached);
  }
}

}  // namespace

int run_backend(const BackendOptions& options) {
  raise_descriptor_limit();
  const unsigned threads = std::max(1u, options.threads);
  net::io_context ioc(static_cast<int>(threads));
  tcp::acceptor acceptor(ioc);
  const tcp::endpoint endpoint(net::ip::make_address(options.listen), options.port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  std::cout << "backend mode=" << mode_name(options.mode)
            << " port=" << acceptor.local_endpoint().port() << std::endl;

  net::co_spawn(ioc, accept_loop(acceptor, options), net::detached);

  // Stops by itself: on a signal, or when its lifetime is over.
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  net::steady_timer lifetime(ioc);
  auto stop = [&] {
    error_code ignored;
    acceptor.close(ignored);
    signals.cancel(ignored);
    lifetime.cancel();
    ioc.stop();
  };
  signals.async_wait([&](const error_code& ec, int) {
    if (!ec) stop();
  });
  lifetime.expires_after(std::chrono::duration_cast<std::chrono::nanoseconds>(options.lifetime));
  lifetime.async_wait([&](const error_code& ec) {
    if (!ec) stop();
  });

  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads; ++i) workers.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : workers) t.join();
  return 0;
}

}  // namespace cgw::bench
