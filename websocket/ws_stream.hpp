// WsStream / WssStream: the browser's end of a session as a ByteStream, on a
// connection whose HTTP upgrade has been answered: a plain socket (ws://,
// PlainSocket) or TLS (wss://, TlsSocket). Binary messages carry the console's
// bytes; message boundaries mean nothing.
//
// Our own framing (websocket/frame.hpp) rather than Beast's WebSocket stream,
// for what an idle or busy console costs (docs/benchmarks.md): an idle session
// holds no read buffer (it waits for readability, then decodes in place in the
// buffer the pump lends for the moment), a frame leaves in one sendmsg with its
// header, unmasking works on words, and pings come from one timer per thread
// (stream/ticker.hpp) rather than one per session.
//
// Used on the session's thread only. At most one read and one write from the
// pump at a time; pongs and close replies are written between data frames.
#pragma once

#include "stream/byte_stream.hpp"
#include "stream/ticker.hpp"
#include "websocket/frame.hpp"
#include "websocket/plain_socket.hpp"
#include "websocket/tls_socket.hpp"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace cgw::websocket {

// Transport: PlainSocket or TlsSocket (non-blocking reads and writes, and
// waiting for the socket).
template <class Transport>
class BasicWsStream final : public stream::ByteStream, private stream::TickerMember {
 public:
  explicit BasicWsStream(Transport transport);
  ~BasicWsStream() override;

  // Pings the browser after `interval` without a frame from it, and gives up on
  // it after twice that. Zero: never.
  void keep_alive(std::chrono::milliseconds interval);
  // A data message from the browser longer than `max` bytes ends the session
  // with 1009 "message too big" (read_some() then fails with
  // errc::message_size). 0: no limit.
  void limit_message_size(std::uint64_t max) noexcept { decoder_.limit_message_size(max); }

  bool can_wait_readable() const noexcept override { return true; }
  boost::asio::awaitable<stream::error_code> wait_readable() override;
  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) override;
  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buf) override;

  // Sends a close frame with `why` (or the override), then gives the browser
  // 5 s to answer before the socket is cut. The answer is read by whoever
  // reads (the pump); see close_and_drain() when nobody does.
  boost::asio::awaitable<void> close(stream::EndReason why) override;
  // close(), then reads (and drops) until the browser's close frame or the end.
  boost::asio::awaitable<void> close_and_drain(stream::EndReason why);
  void abort() noexcept override;
  bool is_open() const noexcept override { return transport_.is_open(); }

  // The reason the next close() gives, whatever the pump asks for (the gateway
  // is stopping: 1001). Call on the session's thread.
  void override_close_reason(stream::EndReason why) { override_ = std::move(why); }

 private:
  using Timer = boost::asio::steady_timer;

  void on_tick() override;
  // Cuts the socket if the close handshake has not ended in 5 s.
  void arm_close_limit();
  // Appends a control frame and writes it out, after any write in flight.
  boost::asio::awaitable<stream::error_code> send_control(const std::string& frame);
  // Waits until no write is in flight.
  boost::asio::awaitable<void> wait_turn();
  // Writes `head` (pending control frames), then `header` + `payload`.
  boost::asio::awaitable<stream::error_code> send(boost::asio::const_buffer header,
                                                  boost::asio::const_buffer payload);

  Transport transport_;
  Decoder decoder_;
  std::string control_out_;         // whole control frames waiting to be written
  std::unique_ptr<Timer> turn_;     // made only when two writers meet
  std::unique_ptr<Timer> closing_;  // the close handshake's time limit
  std::optional<stream::EndReason> override_;
  bool drained_ = false;  // the last read emptied the socket: wait before the next
  bool writing_ = false;  // a write is in flight
  bool close_sent_ = false;
  bool rx_seen_ = false;  // a frame came since the last keepalive tick
  bool timed_out_ = false;
  unsigned char quiet_ticks_ = 0;
};

using WsStream = BasicWsStream<PlainSocket>;
using WssStream = BasicWsStream<TlsSocket>;

}  // namespace cgw::websocket
