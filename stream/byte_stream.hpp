// ByteStream: one end of a console session, as the pump sees it.
//
// The pump joins two of these (the browser's WebSocket and the console's socket
// or SSH channel) and knows nothing else about them, so a later protocol layer
// (an RFB security proxy, a view-only filter, a recorder) is one more ByteStream
// wrapped around another.
//
// Threading: a ByteStream belongs to one session and every call is made on that
// session's thread. At most one read_some and one write are in flight at a time,
// and close() may run while a read_some is pending.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

namespace cgw::stream {

using boost::system::error_code;

// A non-blocking call found nothing to do (EAGAIN).
inline bool would_block(const error_code& ec) {
  return ec == boost::asio::error::would_block || ec == boost::asio::error::try_again;
}

// Why a stream is being ended, for protocols that can say so (WebSocket close code
// and reason); byte streams ignore it.
struct EndReason {
  std::uint16_t code = 1000;
  std::string text;
};

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Reads at least one byte, except that a stream that consumed only traffic of
  // its own protocol (a WebSocket ping, half a frame header) may complete with
  // 0 bytes and no error: the caller waits again. An orderly end of the peer's
  // data is boost::asio::error::eof.
  virtual boost::asio::awaitable<std::tuple<error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) = 0;

  // Streams that can wait for data without holding a buffer say so; the pump
  // then lends them one only once data has arrived, so an idle session holds
  // no read buffer. wait_readable() completes when read_some() would not block
  // (or the stream failed: then read_some() reports it).
  virtual bool can_wait_readable() const noexcept { return false; }
  virtual boost::asio::awaitable<error_code> wait_readable() { co_return error_code{}; }

  // Writes all of `buf` before completing: awaiting this before the next read is
  // what gives the pump its backpressure.
  virtual boost::asio::awaitable<error_code> write(boost::asio::const_buffer buf) = 0;

  // Ends the stream in order (WebSocket: close handshake with `why`). Pending
  // reads complete once the peer has acknowledged, or the stream gives up.
  virtual boost::asio::awaitable<void> close(EndReason why) = 0;

  // Aborts at once: pending operations complete with an error, the transport is closed.
  virtual void abort() noexcept = 0;

  // False once the stream has ended itself (aborted, or gave up on its peer: a
  // WebSocket heartbeat that went unanswered) even if nobody was waiting on it;
  // the pump's watchdog looks at it (PumpOptions::write_timeout).
  virtual bool is_open() const noexcept { return true; }

  // Why this stream ended the session, when a layer of it decided to (a filter
  // that refused what it was given): the pump tells the other side this rather
  // than its default reason. nullopt: the stream just ended or failed.
  virtual std::optional<EndReason> ending() const { return std::nullopt; }
};

}  // namespace cgw::stream
