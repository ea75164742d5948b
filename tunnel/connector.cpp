#include "tunnel/connector.hpp"

#include "stream/socket_stream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <memory>
#include <tuple>

namespace cgw::tunnel {

namespace net = boost::asio;
namespace {

using namespace net::experimental::awaitable_operators;
using tcp = net::ip::tcp;
using Failure = ConnectResult::Failure;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

constexpr auto failed = &ConnectResult::failed;

std::string tcp_description(const std::string& address, std::uint16_t port) {
  const bool v6 = address.find(':') != std::string::npos;
  return "tcp " + (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// Bounds a connect with a timer that closes the socket when it fires, which ends
// the connect with operation_aborted. The timer's handler may run after the
// coroutine has moved on (a cancelled wait still completes), so what it touches
// is shared and cleared once the connect is over.
template <class Socket>
class ConnectDeadline {
 public:
  ConnectDeadline(Socket& socket, std::chrono::milliseconds timeout)
      : watch_(std::make_shared<Watch>(&socket)), timer_(socket.get_executor(), timeout) {
    timer_.async_wait([watch = watch_](const boost::system::error_code& ec) {
      if (ec || !watch->socket) return;
      watch->fired = true;
      boost::system::error_code ignored;
      watch->socket->close(ignored);
    });
  }
  ConnectDeadline(const ConnectDeadline&) = delete;
  ConnectDeadline& operator=(const ConnectDeadline&) = delete;
  ~ConnectDeadline() { finish(); }

  // Stops the timer; true when it had already closed the socket.
  bool finish() {
    watch_->socket = nullptr;
    timer_.cancel();
    return watch_->fired;
  }

 private:
  struct Watch {
    explicit Watch(Socket* s) : socket(s) {}
    Socket* socket;
    bool fired = false;
  };
  std::shared_ptr<Watch> watch_;
  net::steady_timer timer_;
};

net::awaitable<ConnectResult> connect_tcp(std::string address, std::uint16_t port,
                                          std::chrono::milliseconds timeout) {
  auto executor = co_await net::this_coro::executor;
  std::string description = tcp_description(address, port);
  tcp::socket socket(executor);

  // Listen addresses are almost always literal: one endpoint, no resolver.
  boost::system::error_code ec;
  auto literal = net::ip::make_address(address, ec);
  boost::system::error_code connect_error;
  bool timed_out = false;
  if (!ec) {
    ConnectDeadline<tcp::socket> deadline(socket, timeout);
    std::tie(connect_error) =
        co_await socket.async_connect(tcp::endpoint(literal, port), use_tuple);
    timed_out = deadline.finish() && connect_error;
  } else {
    const auto started = std::chrono::steady_clock::now();
    tcp::resolver resolver(executor);
    net::steady_timer timer(executor, timeout);
    auto outcome = co_await (resolver.async_resolve(address, std::to_string(port), use_tuple) ||
                             timer.async_wait(use_tuple));
    if (outcome.index() == 1) {
      co_return failed(Failure::console_unreachable, "console address lookup timed out",
                       description);
    }
    auto [resolve_error, results] = std::get<0>(std::move(outcome));
    if (resolve_error) {
      co_return failed(Failure::console_unreachable, "console address not found", description);
    }
    const auto left = std::max(std::chrono::milliseconds(1),
                               timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started));
    ConnectDeadline<tcp::socket> deadline(socket, left);
    std::tie(connect_error, std::ignore) = co_await net::async_connect(socket, results, use_tuple);
    timed_out = deadline.finish() && connect_error;
  }
  if (timed_out) {
    co_return failed(Failure::console_unreachable, "console connect timed out", description);
  }
  if (connect_error) {
    co_return failed(Failure::console_unreachable,
                     "console unreachable: " + connect_error.message(), description);
  }
  // Console traffic is small interactive messages: never hold them back.
  socket.set_option(tcp::no_delay(true), ec);
  ConnectResult result;
  result.stream = std::make_unique<stream::SocketStream<tcp::socket>>(std::move(socket));
  result.description = std::move(description);
  co_return result;
}

net::awaitable<ConnectResult> connect_unix(std::string path, std::chrono::milliseconds timeout) {
  using local = net::local::stream_protocol;
  auto executor = co_await net::this_coro::executor;
  std::string description = "unix " + path;
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    co_return failed(Failure::console_unreachable, "console socket path too long", description);
  }
  local::socket socket(executor);
  boost::system::error_code connect_error;
  bool timed_out = false;
  {
    ConnectDeadline<local::socket> deadline(socket, timeout);
    std::tie(connect_error) = co_await socket.async_connect(local::endpoint(path), use_tuple);
    timed_out = deadline.finish() && connect_error;
  }
  if (timed_out) {
    co_return failed(Failure::console_unreachable, "console connect timed out", description);
  }
  if (connect_error) {
    co_return failed(Failure::console_unreachable,
                     "console unreachable: " + connect_error.message(), description);
  }
  ConnectResult result;
  result.stream = std::make_unique<stream::SocketStream<local::socket>>(std::move(socket));
  result.description = std::move(description);
  co_return result;
}

}  // namespace

Connector::Connector(ConnectorOptions options, std::shared_ptr<TunnelProvider> tunnels)
    : options_(options), tunnels_(std::move(tunnels)) {}

// Not a coroutine of its own: connect()'s, started when awaited.
net::awaitable<ConnectResult> Connector::open(const ConsoleSpec& console) const {
  return connect(console.host, console.path);
}

net::awaitable<ConnectResult> Connector::connect(const HostRoute& host,
                                                 const ConsolePath& path) const {
  using Kind = ConsolePath::Kind;
  switch (path.kind) {
    case Kind::direct_tcp:
      co_return co_await connect_tcp(path.address, path.port, options_.connect_timeout);
    case Kind::local_unix:
      co_return co_await connect_unix(path.socket_path, options_.connect_timeout);
    case Kind::ssh_tcp:
    case Kind::ssh_unix:
      if (!tunnels_) {
        co_return failed(Failure::needs_ssh, "console needs the SSH tunnel", "ssh " + host.id);
      }
      co_return co_await tunnels_->open(host, path);
    case Kind::refused:
      break;
  }
  co_return failed(path.needs_ssh ? Failure::needs_ssh : Failure::console_unreachable, path.refusal,
                   "none");
}

}  // namespace cgw::tunnel
