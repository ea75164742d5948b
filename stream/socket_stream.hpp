// SocketStream: a ByteStream over a connected Asio stream socket (TCP or UNIX).
// Owns the socket; used from the owning session's thread only.
//
// It waits for readability without a buffer (can_wait_readable), and reads
// without blocking: read_some() completes with 0 bytes when the socket has
// nothing (EAGAIN). After a read that did not fill its buffer the socket is
// taken as drained and wait_readable() waits; that is safe because Asio re-arms
// the descriptor (EPOLL_CTL_MOD) for every wait, and epoll then reports data
// that arrived in between. It saves a read that would only say EAGAIN.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace cgw::stream {

template <class Socket>
class SocketStream final : public stream::ByteStream {
 public:
  explicit SocketStream(Socket socket) : socket_(std::move(socket)) {
    stream::error_code ignored;
    socket_.non_blocking(true, ignored);
  }

  bool can_wait_readable() const noexcept override { return true; }

  boost::asio::awaitable<stream::error_code> wait_readable() override {
    if (!drained_) co_return stream::error_code{};
    auto [ec] = co_await socket_.async_wait(Socket::wait_read,
                                            boost::asio::as_tuple(boost::asio::use_awaitable));
    drained_ = false;
    co_return ec;
  }

  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) override {
    stream::error_code ec;
    const std::size_t n = socket_.read_some(buf, ec);
    if (stream::would_block(ec)) {
      drained_ = true;
      co_return std::tuple{stream::error_code{}, std::size_t{0}};
    }
    drained_ = !ec && n < buf.size();
    co_return std::tuple{ec, n};
  }

  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buf) override {
    // Most writes fit the socket's buffer: try at once, wait only for the rest.
    stream::error_code ec;
    const std::size_t n = socket_.write_some(buf, ec);
    if (!ec && n == buf.size()) co_return ec;
    if (ec && !stream::would_block(ec)) co_return ec;
    auto [error, written] = co_await boost::asio::async_write(
        socket_, buf + n, boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)written;
    co_return error;
  }

  boost::asio::awaitable<void> close(stream::EndReason) override {
    abort();
    co_return;
  }

  void abort() noexcept override {
    stream::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  bool is_open() const noexcept override { return socket_.is_open(); }

  Socket& socket() { return socket_; }

 private:
  Socket socket_;
  bool drained_ = false;  // the last read emptied the socket: wait before the next
};

}  // namespace cgw::stream
