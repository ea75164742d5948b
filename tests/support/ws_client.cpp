#include "tests/support/ws_client.hpp"

#include "tests/support/log_archive.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <sys/socket.h>

#include <atomic>
#include <stdexcept>

namespace cgw::test {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

void set_timeouts(tcp::socket& socket, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

tcp::socket connect_socket(net::io_context& ioc, const std::string& host, std::uint16_t port,
                           std::chrono::milliseconds timeout) {
  tcp::resolver resolver(ioc);
  tcp::socket socket(ioc);
  net::connect(socket, resolver.resolve(host, std::to_string(port)));
  set_timeouts(socket, timeout);
  return socket;
}

ssl::context make_tls_context(const std::string& ca_file) {
  ssl::context ctx(ssl::context::tls_client);
  if (ca_file.empty()) {
    ctx.set_verify_mode(ssl::verify_none);
  } else {
    ctx.load_verify_file(ca_file);
    ctx.set_verify_mode(ssl::verify_peer);
  }
  return ctx;
}

template <class Next>
class Client final : public WsClient {
 public:
  template <class... Args>
  explicit Client(Args&&... args) : ws_(std::forward<Args>(args)...) {}

  void handshake(const WsOptions& o) {
    ws_.set_option(websocket::stream_base::decorator([o](websocket::request_type& req) {
      if (!o.origin.empty()) req.set(http::field::origin, o.origin);
      if (!o.subprotocol.empty()) req.set(http::field::sec_websocket_protocol, o.subprotocol);
      if (!o.cookie.empty()) req.set(http::field::cookie, o.cookie);
    }));
    ws_.handshake(response_, o.host + ":" + std::to_string(o.port), o.target);
    ws_.binary(true);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) ++pings_;
      if (kind == websocket::frame_type::pong) ++pongs_;
    });
  }

  int pings_seen() const override { return pings_; }
  int pongs_seen() const override { return pongs_; }

  void write_text(std::string_view text) override {
    ws_.text(true);
    ws_.write(net::buffer(text.data(), text.size()));
    ws_.binary(true);
  }

  void ping(std::string_view payload) override {
    ws_.ping(websocket::ping_data(payload.data(), payload.size()));
  }

  Next& next() { return ws_.next_layer(); }

  std::string negotiated_subprotocol() const override {
    return std::string(response_[http::field::sec_websocket_protocol]);
  }

  std::string read_exactly(std::size_t n) override {
    while (pending_.size() < n) {
      auto message = read_message();
      if (!message)
        throw std::runtime_error("stream closed after " + std::to_string(pending_.size()) +
                                 " bytes");
      pending_ += *message;
    }
    std::string out = pending_.substr(0, n);
    pending_.erase(0, n);
    return out;
  }

  std::optional<std::string> read_message() override {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec == websocket::error::closed) return std::nullopt;
    if (ec) throw beast::system_error(ec);
    return beast::buffers_to_string(buffer.data());
  }

  void write(std::string_view bytes) override {
    ws_.write(net::buffer(bytes.data(), bytes.size()));
  }

  CloseFrame read_until_close() override {
    for (;;) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws_.read(buffer, ec);
      // A close frame that arrived counts, whatever the TCP teardown after it
      // says: the server closes first (RFC 6455 7.1.1), so our TLS close_notify
      // may meet a closed socket, get a reset, and Beast's teardown then reports
      // "not connected" although the close handshake was complete. A browser
      // reports the close frame too.
      if (ec == websocket::error::closed ||
          (ec && ws_.reason().code != websocket::close_code::none)) {
        return CloseFrame{static_cast<int>(ws_.reason().code),
                          std::string(ws_.reason().reason.c_str())};
      }
      if (ec) return CloseFrame{0, ec.message()};
    }
  }

  void close(int code) override {
    beast::error_code ec;
    ws_.close(websocket::close_reason(static_cast<websocket::close_code>(code)), ec);
  }

 private:
  websocket::stream<Next> ws_;
  websocket::response_type response_;
  std::string pending_;
  // Atomic: another thread may watch them while this one blocks in a read.
  std::atomic<int> pings_{0};
  std::atomic<int> pongs_{0};
};

// Keeps the io_context and TLS context alive as long as the client.
template <class Next>
class Owned final : public WsClient {
 public:
  Owned(std::unique_ptr<net::io_context> ioc, std::unique_ptr<ssl::context> ctx,
        std::unique_ptr<Client<Next>> client)
      : ioc_(std::move(ioc)), ctx_(std::move(ctx)), client_(std::move(client)) {}
  std::string negotiated_subprotocol() const override { return client_->negotiated_subprotocol(); }
  std::string read_exactly(std::size_t n) override { return client_->read_exactly(n); }
  std::optional<std::string> read_message() override { return client_->read_message(); }
  void write(std::string_view bytes) override { client_->write(bytes); }
  CloseFrame read_until_close() override { return client_->read_until_close(); }
  void close(int code) override { client_->close(code); }
  int pings_seen() const override { return client_->pings_seen(); }
  int pongs_seen() const override { return client_->pongs_seen(); }
  void write_text(std::string_view text) override { client_->write_text(text); }
  void ping(std::string_view payload) override { client_->ping(payload); }

 private:
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<ssl::context> ctx_;
  std::unique_ptr<Client<Next>> client_;
};

}  // namespace

std::unique_ptr<WsClient> WsClient::connect(const WsOptions& o) {
  record_tokens_in(o.target);
  record_tokens_in(o.cookie);
  record_tokens_in(o.subprotocol);
  auto ioc = std::make_unique<net::io_context>();
  tcp::socket socket = connect_socket(*ioc, o.host, o.port, o.timeout);
  if (!o.tls) {
    auto client = std::make_unique<Client<tcp::socket>>(std::move(socket));
    client->handshake(o);
    return std::make_unique<Owned<tcp::socket>>(std::move(ioc), nullptr, std::move(client));
  }
  auto ctx = std::make_unique<ssl::context>(make_tls_context(o.ca_file));
  auto client = std::make_unique<Client<ssl::stream<tcp::socket>>>(std::move(socket), *ctx);
  client->next().handshake(ssl::stream_base::client);
  client->handshake(o);
  return std::make_unique<Owned<ssl::stream<tcp::socket>>>(std::move(ioc), std::move(ctx),
                                                           std::move(client));
}

HttpResponse http_get(std::uint16_t port, const std::string& target, bool tls,
                      const std::string& host_header) {
  record_tokens_in(target);
  net::io_context ioc;
  tcp::socket socket = connect_socket(ioc, "127.0.0.1", port, std::chrono::seconds(15));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host_header);
  req.keep_alive(false);
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  beast::error_code ec;
  if (tls) {
    ssl::context ctx = make_tls_context("");
    ssl::stream<tcp::socket> stream(std::move(socket), ctx);
    stream.handshake(ssl::stream_base::client);
    http::write(stream, req);
    http::read(stream, buffer, res, ec);
  } else {
    http::write(socket, req);
    http::read(socket, buffer, res, ec);
  }
  if (ec && ec != http::error::end_of_stream) throw beast::system_error(ec);
  return HttpResponse{static_cast<int>(res.result_int()), res.body()};
}

std::string tcp_read(std::uint16_t port, std::size_t n) {
  net::io_context ioc;
  tcp::socket socket = connect_socket(ioc, "127.0.0.1", port, std::chrono::seconds(15));
  std::string out(n, '\0');
  net::read(socket, net::buffer(out));
  return out;
}

}  // namespace cgw::test
