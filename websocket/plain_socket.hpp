// PlainSocket: a TCP socket with the interface WsStream frames into (the same
// as TlsSocket's), for ws:// sessions. Non-blocking; used on the session's
// thread only.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <span>

namespace cgw::websocket {

class PlainSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using error_code = stream::error_code;

  explicit PlainSocket(tcp::socket socket) : socket_(std::move(socket)) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
  }

  tcp::socket::executor_type get_executor() { return socket_.get_executor(); }

  // A read that did not fill the buffer emptied the socket: wait before the
  // next. That is safe because Asio re-arms the descriptor (EPOLL_CTL_MOD) for
  // every wait, and epoll then reports data that arrived in between.
  std::size_t read_some(boost::asio::mutable_buffer buf, error_code& ec, bool& drained) {
    const std::size_t n = socket_.read_some(buf, ec);
    drained = stream::would_block(ec) || n < buf.size();
    return n;
  }
  static bool input_buffered() { return false; }
  boost::asio::awaitable<error_code> wait_read() {
    auto [ec] = co_await socket_.async_wait(tcp::socket::wait_read,
                                            boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return ec;
  }

  // One sendmsg; returns what the socket took.
  std::size_t write_some(std::span<const boost::asio::const_buffer> buffers, error_code& ec) {
    return socket_.write_some(buffers, ec);
  }
  static bool output_pending() { return false; }
  // All of `buffers`, waiting for room.
  boost::asio::awaitable<error_code> write_all(std::span<const boost::asio::const_buffer> buffers) {
    auto [ec, n] = co_await boost::asio::async_write(
        socket_, buffers, boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)n;
    co_return ec;
  }

  void shutdown_send() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }
  void close() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }
  bool is_open() const { return socket_.is_open(); }

 private:
  tcp::socket socket_;
};

}  // namespace cgw::websocket
