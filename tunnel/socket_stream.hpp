// SocketStream: a ByteStream over a connected Asio stream socket (TCP or UNIX).
// Owns the socket; used from the owning session's strand only.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace cgw::tunnel {

namespace net = boost::asio;

template <class Socket>
class SocketStream final : public stream::ByteStream {
 public:
  explicit SocketStream(Socket socket) : socket_(std::move(socket)) {}

  stream::net::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      stream::net::mutable_buffer buf) override {
    co_return co_await socket_.async_read_some(buf, net::as_tuple(net::use_awaitable));
  }

  stream::net::awaitable<stream::error_code> write(stream::net::const_buffer buf) override {
    auto [ec, n] = co_await net::async_write(socket_, buf, net::as_tuple(net::use_awaitable));
    (void)n;
    co_return ec;
  }

  stream::net::awaitable<void> close(stream::EndReason) override {
    abort();
    co_return;
  }

  void abort() noexcept override {
    stream::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  Socket& socket() { return socket_; }

 private:
  Socket socket_;
};

}  // namespace cgw::tunnel
