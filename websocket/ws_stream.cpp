#include "websocket/ws_stream.hpp"

#include "stream/buffer_pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/system/errc.hpp>

#include <algorithm>
#include <array>

namespace cgw::websocket {

namespace net = boost::asio;
using stream::error_code;
using stream::would_block;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr auto close_limit = std::chrono::seconds(5);

}  // namespace

template <class T>
BasicWsStream<T>::BasicWsStream(T transport) : transport_(std::move(transport)) {}

template <class T>
BasicWsStream<T>::~BasicWsStream() = default;

template <class T>
void BasicWsStream<T>::keep_alive(std::chrono::milliseconds interval) {
  if (interval.count() <= 0) return;
  // Ticks every half interval (see on_tick()), at least every millisecond.
  join(transport_.get_executor(), std::max(std::chrono::milliseconds(1), interval / 2));
}

template <class T>
void BasicWsStream<T>::on_tick() {
  if (rx_seen_) {
    rx_seen_ = false;
    quiet_ticks_ = 0;
    return;
  }
  if (!transport_.is_open()) return;
  ++quiet_ticks_;
  // Ticks come every half interval: ping after one interval of silence, give
  // up after two.
  if (quiet_ticks_ >= 4) {
    timed_out_ = true;
    abort();
    return;
  }
  if (quiet_ticks_ != 2 || close_sent_) return;
  static constexpr char ping[] = {'\x89', '\x00'};
  if (writing_ || !control_out_.empty()) {
    control_out_.append(ping, sizeof ping);  // rides with the next write
    return;
  }
  error_code ec;
  const net::const_buffer buffer = net::buffer(ping);
  const std::size_t n = transport_.write_some(std::span(&buffer, 1), ec);
  if (n < sizeof ping && (!ec || would_block(ec))) control_out_.append(ping + n, sizeof ping - n);
}

template <class T>
net::awaitable<error_code> BasicWsStream<T>::wait_readable() {
  // After the close frame read_some() reports the end without reading: waiting
  // for the socket would wait for a browser that waits for us to end the TCP.
  if (!drained_ || transport_.input_buffered() || decoder_.close_received()) {
    co_return error_code{};
  }
  const error_code ec = co_await transport_.wait_read();
  drained_ = false;
  if (timed_out_) co_return net::error::timed_out;
  co_return ec;
}

template <class T>
net::awaitable<std::tuple<error_code, std::size_t>> BasicWsStream<T>::read_some(
    net::mutable_buffer buf) {
  using Result = std::tuple<error_code, std::size_t>;
  if (timed_out_) co_return Result{net::error::timed_out, 0};
  if (decoder_.close_received()) co_return Result{boost::beast::websocket::error::closed, 0};
  error_code ec;
  const std::size_t n = transport_.read_some(buf, ec, drained_);
  if (would_block(ec)) co_return Result{error_code{}, 0};
  if (ec) co_return Result{ec, 0};
  rx_seen_ = true;
  const std::size_t payload = decoder_.decode(static_cast<std::uint8_t*>(buf.data()), n);
  (void)decoder_.take_pong();
  if (decoder_.failed()) {
    if (!close_sent_) {
      close_sent_ = true;
      const std::string frame = ::cgw::websocket::close_frame(decoder_.error_code(),
                                                              std::string(decoder_.error_reason()));
      co_await send_control(frame);
    }
    // Our FIN follows the close frame; then read (and drop) what the browser
    // still sends until it closes too, for at most close_limit. Closing a socket
    // with unread data resets the connection, and a reset can destroy the close
    // frame before the browser has read it.
    transport_.shutdown_send();
    arm_close_limit();
    for (;;) {
      if (co_await transport_.wait_read()) break;
      error_code read_error;
      bool drained = false;
      transport_.read_some(buf, read_error, drained);
      if (read_error && !would_block(read_error)) break;
    }
    using boost::system::errc::make_error_code;
    co_return Result{decoder_.error_code() == 1009
                         ? make_error_code(boost::system::errc::message_size)
                         : make_error_code(boost::system::errc::protocol_error),
                     0};
  }
  if (auto ping = decoder_.take_ping(); ping && !close_sent_) {
    const std::string pong = ::cgw::websocket::control_frame(::cgw::websocket::Opcode::pong, *ping);
    if (const error_code e = co_await send_control(pong)) co_return Result{e, 0};
  }
  if (decoder_.close_received()) {
    if (!close_sent_) {
      // The browser closes first: answer with its code, as RFC 6455 asks.
      close_sent_ = true;
      const std::uint16_t code = decoder_.close_code();
      std::string reply;
      if (code == 1005) {
        reply = ::cgw::websocket::control_frame(::cgw::websocket::Opcode::close, {});
      } else {
        reply = ::cgw::websocket::close_frame(code, {});
      }
      co_await send_control(reply);
    }
    if (closing_) closing_->cancel();
    if (payload == 0) co_return Result{boost::beast::websocket::error::closed, 0};
  }
  co_return Result{error_code{}, payload};
}

template <class T>
net::awaitable<void> BasicWsStream<T>::wait_turn() {
  while (writing_) {
    if (!turn_) turn_ = std::make_unique<Timer>(transport_.get_executor());
    turn_->expires_at(Timer::time_point::max());
    co_await turn_->async_wait(use_tuple);
  }
}

template <class T>
net::awaitable<error_code> BasicWsStream<T>::send(net::const_buffer header,
                                                  net::const_buffer payload) {
  co_await wait_turn();
  if (!transport_.is_open()) co_return net::error::bad_descriptor;
  std::string control = std::move(control_out_);
  control_out_.clear();
  std::array<net::const_buffer, 3> buffers{net::buffer(control), header, payload};
  // Most frames fit the socket's buffer: one sendmsg, no wait.
  error_code ec;
  std::size_t done = transport_.write_some(buffers, ec);
  const std::size_t total = net::buffer_size(buffers);
  if (!ec && done == total && !transport_.output_pending()) co_return ec;
  if (ec && !would_block(ec)) co_return ec;
  // The rest, waiting for room; other writers wait their turn meanwhile.
  writing_ = true;
  std::size_t skip = done;
  for (auto& b : buffers) {
    const std::size_t cut = std::min(skip, b.size());
    b += cut;
    skip -= cut;
  }
  const error_code error = co_await transport_.write_all(buffers);
  writing_ = false;
  if (turn_) turn_->cancel();
  co_return error;
}

template <class T>
net::awaitable<error_code> BasicWsStream<T>::write(net::const_buffer buf) {
  // No data after our close frame (RFC 6455 §5.5.1); the session is ending.
  if (close_sent_) co_return error_code{};
  std::array<std::uint8_t, ::cgw::websocket::max_header_size> header;
  const std::size_t n =
      ::cgw::websocket::write_header(header.data(), ::cgw::websocket::Opcode::binary, buf.size());
  co_return co_await send(net::buffer(header.data(), n), buf);
}

template <class T>
net::awaitable<error_code> BasicWsStream<T>::send_control(const std::string& frame) {
  control_out_ += frame;
  co_return co_await send(net::const_buffer(), net::const_buffer());
}

template <class T>
net::awaitable<void> BasicWsStream<T>::close(stream::EndReason why) {
  if (close_sent_ || !transport_.is_open()) co_return;
  if (override_) why = *override_;
  close_sent_ = true;
  const std::string frame = ::cgw::websocket::close_frame(why.code, why.text);
  co_await send_control(frame);
  if (decoder_.close_received() || !transport_.is_open()) co_return;
  // The browser answers; whoever reads sees it. Cut the socket if it does not.
  arm_close_limit();
}

template <class T>
void BasicWsStream<T>::arm_close_limit() {
  if (closing_) return;
  closing_ = std::make_unique<Timer>(transport_.get_executor());
  closing_->expires_after(close_limit);
  closing_->async_wait([this](const error_code& ec) {
    if (!ec) abort();  // cancelled: `this` may be gone, so touch nothing
  });
}

template <class T>
net::awaitable<void> BasicWsStream<T>::close_and_drain(stream::EndReason why) {
  co_await close(why);
  // What the browser still sends is read into a borrowed buffer, one read at a
  // time, as the pump does: a browser that floods is drained in 64 KiB reads,
  // not hundreds of thousands of small ones, and a quiet one holds no buffer.
  for (;;) {
    if (co_await wait_readable()) break;
    const stream::BorrowedBuffer scratch = stream::BorrowedBuffer::borrow();
    auto [ec, n] = co_await read_some(net::buffer(scratch.data(), stream::BorrowedBuffer::size));
    if (ec) break;
  }
  abort();
}

template <class T>
void BasicWsStream<T>::abort() noexcept {
  if (closing_) closing_->cancel();
  if (turn_) turn_->cancel();
  transport_.close();
}

template class BasicWsStream<PlainSocket>;
template class BasicWsStream<TlsSocket>;

}  // namespace cgw::websocket
