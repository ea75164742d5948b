#include "tunnel/connector.hpp"

#include "tunnel/socket_stream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace cgw::tunnel {
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

net::awaitable<ConnectResult> connect_tcp(std::string address, std::uint16_t port,
                                          std::chrono::milliseconds timeout) {
  auto executor = co_await net::this_coro::executor;
  std::string description = tcp_description(address, port);
  net::steady_timer timer(executor, timeout);

  // Listen addresses are almost always literal; only names go to the resolver.
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec;
  auto literal = net::ip::make_address(address, ec);
  if (!ec) {
    endpoints.emplace_back(literal, port);
  } else {
    tcp::resolver resolver(executor);
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
    for (const auto& entry : results) endpoints.push_back(entry.endpoint());
  }

  tcp::socket socket(executor);
  auto outcome =
      co_await (net::async_connect(socket, endpoints, use_tuple) || timer.async_wait(use_tuple));
  if (outcome.index() == 1) {
    co_return failed(Failure::console_unreachable, "console connect timed out", description);
  }
  auto [connect_error, endpoint] = std::get<0>(outcome);
  if (connect_error) {
    co_return failed(Failure::console_unreachable,
                     "console unreachable: " + connect_error.message(), description);
  }
  // Console traffic is small interactive messages: never hold them back.
  socket.set_option(tcp::no_delay(true), ec);
  ConnectResult result;
  result.stream = std::make_unique<SocketStream<tcp::socket>>(std::move(socket));
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
  net::steady_timer timer(executor, timeout);
  local::socket socket(executor);
  auto outcome = co_await (socket.async_connect(local::endpoint(path), use_tuple) ||
                           timer.async_wait(use_tuple));
  if (outcome.index() == 1) {
    co_return failed(Failure::console_unreachable, "console connect timed out", description);
  }
  auto [connect_error] = std::get<0>(outcome);
  if (connect_error) {
    co_return failed(Failure::console_unreachable,
                     "console unreachable: " + connect_error.message(), description);
  }
  ConnectResult result;
  result.stream = std::make_unique<SocketStream<local::socket>>(std::move(socket));
  result.description = std::move(description);
  co_return result;
}

}  // namespace

Connector::Connector(ConnectorOptions options, std::shared_ptr<TunnelProvider> tunnels)
    : options_(options), tunnels_(std::move(tunnels)) {}

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
