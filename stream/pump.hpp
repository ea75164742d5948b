// The byte pump: copies both ways between a client stream and a console stream
// until either side ends, with at most one buffer in flight per direction
// (a read is not started before the previous write has completed), so at most
// 64 KiB per direction is held whatever the speeds at either end.
#pragma once

#include "stream/byte_stream.hpp"

#include <cstdint>

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
};

struct PumpResult {
  enum class Ender { client, console };
  Ender ended_by = Ender::client;
  error_code error;  // what ended it (eof, websocket closed, a transport error)
  std::uint64_t client_to_console = 0;
  std::uint64_t console_to_client = 0;
};

// Runs on the caller's executor (one thread, or a strand); returns when both directions
// have stopped. The client stream is closed in order when the console ends; the
// console stream is aborted when the client ends. `options` is copied when the
// coroutine first runs, so it must outlive that first resumption (awaiting pump()
// directly is enough). By reference and without a default: GCC 12 mis-destroys
// defaulted by-value coroutine parameters.
boost::asio::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console,
                                        const PumpOptions& options);

}  // namespace cgw::stream
