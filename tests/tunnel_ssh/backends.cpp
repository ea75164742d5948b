#include "backends.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace cgw::tunnel::test {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using local = net::local::stream_protocol;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

template <class Socket>
net::awaitable<void> echo(Socket socket) {
  if (auto [ec, n] =
          co_await net::async_write(socket, net::buffer(greeting, sizeof greeting - 1), use_tuple);
      ec) {
    co_return;
  }
  auto buffer = std::make_unique<char[]>(64 * 1024);
  for (;;) {
    auto [read_error, n] =
        co_await socket.async_read_some(net::buffer(buffer.get(), 64 * 1024), use_tuple);
    if (read_error) co_return;
    auto [write_error, written] =
        co_await net::async_write(socket, net::buffer(buffer.get(), n), use_tuple);
    if (write_error) co_return;
  }
}

net::awaitable<void> deaf(tcp::socket socket) {
  co_await net::async_write(socket, net::buffer(greeting, sizeof greeting - 1), use_tuple);
  // Holds the connection open without reading until the backends stop.
  net::steady_timer forever(socket.get_executor(), net::steady_timer::time_point::max());
  co_await forever.async_wait(use_tuple);
}

net::awaitable<void> greet_and_close(tcp::socket socket) {
  co_await net::async_write(socket, net::buffer(greeting, sizeof greeting - 1), use_tuple);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

net::awaitable<void> flood(tcp::socket socket, std::atomic<std::uint64_t>& sent) {
  if (auto [ec, n] =
          co_await net::async_write(socket, net::buffer(greeting, sizeof greeting - 1), use_tuple);
      ec) {
    co_return;
  }
  const std::string block(16 * 1024, 'f');
  for (;;) {
    auto [ec, n] = co_await socket.async_write_some(net::buffer(block), use_tuple);
    if (ec) co_return;
    sent += n;
  }
}

template <class Acceptor>
net::awaitable<void> serve(Acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    net::co_spawn(acceptor.get_executor(), echo(std::move(socket)), net::detached);
  }
}

net::awaitable<void> serve_deaf(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    net::co_spawn(acceptor.get_executor(), deaf(std::move(socket)), net::detached);
  }
}

net::awaitable<void> serve_closing(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    net::co_spawn(acceptor.get_executor(), greet_and_close(std::move(socket)), net::detached);
  }
}

net::awaitable<void> serve_flood(tcp::acceptor& acceptor, std::atomic<std::uint64_t>& sent) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec) co_return;
    net::co_spawn(acceptor.get_executor(), flood(std::move(socket), sent), net::detached);
  }
}

}  // namespace

EchoBackends::EchoBackends(std::string unix_path)
    : tcp_acceptor_(context_, tcp::endpoint(net::ip::address_v4::loopback(), 0)),
      unix_acceptor_(context_),
      silent_acceptor_(context_, tcp::endpoint(net::ip::address_v4::loopback(), 0)),
      deaf_acceptor_(context_, tcp::endpoint(net::ip::address_v4::loopback(), 0)),
      flood_acceptor_(context_, tcp::endpoint(net::ip::address_v4::loopback(), 0)),
      closing_acceptor_(context_, tcp::endpoint(net::ip::address_v4::loopback(), 0)),
      unix_path_(std::move(unix_path)) {
  std::remove(unix_path_.c_str());
  unix_acceptor_ = local::acceptor(context_, local::endpoint(unix_path_));
  tcp_port_ = tcp_acceptor_.local_endpoint().port();
  silent_port_ = silent_acceptor_.local_endpoint().port();
  deaf_port_ = deaf_acceptor_.local_endpoint().port();
  flood_port_ = flood_acceptor_.local_endpoint().port();
  closing_port_ = closing_acceptor_.local_endpoint().port();
  net::co_spawn(context_, serve_closing(closing_acceptor_), net::detached);
  net::co_spawn(context_, serve_deaf(deaf_acceptor_), net::detached);
  net::co_spawn(context_, serve_flood(flood_acceptor_, flood_sent_), net::detached);
  net::co_spawn(context_, serve(tcp_acceptor_), net::detached);
  net::co_spawn(context_, serve(unix_acceptor_), net::detached);
  thread_ = std::thread([this] { context_.run(); });
}

EchoBackends::~EchoBackends() {
  context_.stop();
  thread_.join();
  std::remove(unix_path_.c_str());
}

}  // namespace cgw::tunnel::test
