#include "bench/link.hpp"

#include "bench/tls_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket.hpp>

#include <boost/system/system_error.hpp>

namespace cgw::bench {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

class TcpLink final : public Link {
 public:
  explicit TcpLink(tcp::socket socket) : socket_(std::move(socket)) {}

  net::awaitable<std::tuple<error_code, std::size_t>> read_some(
      net::mutable_buffer buffer) override {
    co_return co_await socket_.async_read_some(buffer, use_tuple);
  }

  net::awaitable<error_code> write(net::const_buffer buffer) override {
    auto [ec, n] = co_await net::async_write(socket_, buffer, use_tuple);
    (void)n;
    co_return ec;
  }

  void close() noexcept override {
    error_code ignored;
    socket_.close(ignored);
  }

  std::string close_reason() const override { return {}; }

 private:
  tcp::socket socket_;
};

template <class Next>
class WebSocketLink final : public Link {
 public:
  template <class... Args>
  explicit WebSocketLink(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  websocket::stream<Next>& ws() { return ws_; }

  net::awaitable<std::tuple<error_code, std::size_t>> read_some(
      net::mutable_buffer buffer) override {
    co_return co_await ws_.async_read_some(buffer, use_tuple);
  }

  net::awaitable<error_code> write(net::const_buffer buffer) override {
    auto [ec, n] = co_await ws_.async_write(buffer, use_tuple);
    (void)n;
    co_return ec;
  }

  void close() noexcept override {
    error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }

  std::string close_reason() const override {
    const websocket::close_reason& why = ws_.reason();
    if (why.code == websocket::close_code::none) return {};
    return std::to_string(why.code) + " " + std::string(why.reason.data(), why.reason.size());
  }

 private:
  websocket::stream<Next> ws_;
};

// A browser's settings: binary messages, no compression (Beast's client offers
// none by default), one frame per message up to frame_bytes.
template <class Next>
void configure(websocket::stream<Next>& ws, const LinkOptions& options) {
  ws.binary(true);
  ws.auto_fragment(false);
  ws.write_buffer_bytes(options.frame_bytes);
  ws.read_message_max(std::uint64_t{1} << 30);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::request_type& req) { req.set(beast::http::field::user_agent, "cgw-bench"); }));
}

std::string host_header(const Target& target) {
  const bool v6 = target.host.find(':') != std::string::npos;
  return (v6 ? "[" + target.host + "]" : target.host) + ":" + std::to_string(target.port);
}

net::awaitable<tcp::socket> connect_tcp(const Target& target) {
  auto executor = co_await net::this_coro::executor;
  tcp::socket socket(executor);
  error_code ec;
  const auto address = net::ip::make_address(target.host, ec);
  if (!ec) {
    co_await socket.async_connect(tcp::endpoint(address, target.port), net::use_awaitable);
  } else {
    tcp::resolver resolver(executor);
    const auto found = co_await resolver.async_resolve(target.host, std::to_string(target.port),
                                                       net::use_awaitable);
    co_await net::async_connect(socket, found, net::use_awaitable);
  }
  socket.set_option(tcp::no_delay(true));
  co_return socket;
}

}  // namespace

net::awaitable<std::unique_ptr<Link>> open_link(Target target, const LinkOptions& options) {
  tcp::socket socket = co_await connect_tcp(target);
  switch (target.kind) {
    case Target::Kind::tcp:
      co_return std::make_unique<TcpLink>(std::move(socket));

    case Target::Kind::ws: {
      auto link = std::make_unique<WebSocketLink<tcp::socket>>(std::move(socket));
      configure(link->ws(), options);
      co_await link->ws().async_handshake(host_header(target), target.resource, net::use_awaitable);
      co_return link;
    }

    case Target::Kind::wss: {
      if (!options.tls) throw std::logic_error("wss:// without a TLS context");
      auto link = std::make_unique<WebSocketLink<TlsClient>>(
          TlsClient(std::move(socket), options.tls->native_handle(), target.host));
      co_await link->ws().next_layer().handshake();
      configure(link->ws(), options);
      co_await link->ws().async_handshake(host_header(target), target.resource, net::use_awaitable);
      co_return link;
    }
  }
  throw std::logic_error("unknown target kind");
}

std::string error_text(const std::exception& e) {
  if (const auto* system = dynamic_cast<const boost::system::system_error*>(&e)) {
    return system->code().message();
  }
  return e.what();
}

ssl::context make_client_tls() {
  ssl::context ctx(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  // A browser's order of preference (Chromium's and Firefox's both put
  // AES-128-GCM first), so that the server picks what a browser would get.
  SSL_CTX_set_ciphersuites(ctx.native_handle(),
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                           "TLS_CHACHA20_POLY1305_SHA256");
  ctx.set_verify_mode(ssl::verify_none);
  return ctx;
}

}  // namespace cgw::bench
