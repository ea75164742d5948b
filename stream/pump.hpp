// The byte pump: copies both ways between a client stream and a console stream
// until either side ends, with at most one buffer in flight per direction
// (a read is not started before the previous write has completed), so at most
// 64 KiB per direction is held whatever the speeds at either end.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace cgw::stream {

// Per direction: when the source can wait for data without a buffer (sockets,
// the browser's WebSocket), a 64 KiB BorrowedBuffer is lent for each read and
// its write only, so an idle session holds no read buffer. Other sources (an SSH
// channel, TLS) read into a small buffer of the pump's own while quiet and
// into a borrowed one while data flows.
struct PumpOptions {
  static constexpr std::size_t quiet_buffer_size = 512;
  std::size_t max_read = 64 * 1024;  // at most this much per read (tests lower it)
  // Told to the client when the console side ends first (unless the console's
  // stream says why itself: ByteStream::ending()).
  EndReason console_closed{1000, "console closed"};
  // A write that has not completed for this long (the peer stopped reading) ends
  // the session: both streams are aborted, and when the console is the one that
  // stopped, the client is told `console_stalled`. Zero: never. Checked by one
  // timer per thread (stream/ticker.hpp) every half of it, so the cut comes between
  // one and one and a half times this after the write began; a write is at most
  // `max_read` bytes, so a reader slower than max_read per write_timeout is cut.
  // Also ends a session whose stream ended itself (the browser's heartbeat gave
  // up) while nobody was waiting on it.
  std::chrono::milliseconds write_timeout{0};
  EndReason console_stalled{4504, "console stopped reading"};
  // No write either way for this long ends the session, and the client is
  // told `idle`. Zero: never. Checked by the same per-thread timer (no clock
  // read per byte): the cut comes within a quarter of it after the time.
  std::chrono::milliseconds idle_timeout{0};
  EndReason idle{4408, "console idle"};
  // A session open this long is ended, and the client is told `too_long`.
  // Zero: never. Also checked by that timer.
  std::chrono::milliseconds max_length{0};
  EndReason too_long{4410, "time limit"};  // short: no allocation per session
};

// The error a session cut by the watchdog ends with: "peer stopped reading".
error_code stalled_error();
// ... ended for idle_timeout ("session idle") or max_length ("session time limit").
error_code idle_error();
error_code too_long_error();

// Asked, when the console ended by itself (its stream gave no ending() and was
// neither aborted nor cut), for a better reason than PumpOptions::console_closed,
// once the console is let go (the gateway asks libvirt whether the VM stopped).
// Nullopt from it: console_closed. Per session, beside options that many
// sessions share.
class ConsoleEndReason {
 public:
  virtual boost::asio::awaitable<std::optional<EndReason>> explain() = 0;

 protected:
  ~ConsoleEndReason() = default;
};

struct PumpResult {
  enum class Ender { client, console };
  Ender ended_by = Ender::client;
  // What ended it (eof, websocket closed, a transport error; stalled_error() when
  // a write made no progress, timed_out when the client stream gave up on its peer).
  error_code error;
  bool stalled = false;  // a write made no progress for write_timeout
  // When the console ended first, by itself: what the client was told.
  std::unique_ptr<EndReason> told;  // a pointer: a PumpResult sits in idle sessions' frames
  std::uint64_t client_to_console = 0;
  std::uint64_t console_to_client = 0;
};

// Runs on the caller's executor (one thread, or a strand); returns when both directions
// have stopped. The client stream is closed in order when the console ends; the
// console stream is aborted when the client ends. `options` and `why_ended`
// (null: none) are referred to, not copied (many sessions may share one
// PumpOptions), so both must outlive the pump: awaiting pump() directly is
// enough. By reference and without a default: GCC 12 mis-destroys defaulted
// by-value coroutine parameters.
boost::asio::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console,
                                        const PumpOptions& options, ConsoleEndReason* why_ended);

// The same with no ConsoleEndReason.
inline boost::asio::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console,
                                               const PumpOptions& options) {
  return pump(client, console, options, nullptr);
}

}  // namespace cgw::stream
