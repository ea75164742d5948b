// The byte pump: copies both ways between a client stream and a console stream
// until either side ends, with at most one buffer in flight per direction
// (a read is not started before the previous write has completed).
#pragma once

#include "stream/byte_stream.hpp"

#include <cstdint>

namespace cgw::stream {

struct PumpOptions {
  std::size_t buffer_size = 64 * 1024;  // per direction
  // Told to the client when the console side ends first.
  EndReason console_closed{1000, "console closed"};
};

struct PumpResult {
  enum class Ender { client, console };
  Ender ended_by = Ender::client;
  error_code error;  // what ended it (eof, websocket closed, a transport error)
  std::uint64_t client_to_console = 0;
  std::uint64_t console_to_client = 0;
};

// Runs on the caller's executor (the session strand); returns when both directions
// have stopped. The client stream is closed in order when the console ends; the
// console stream is aborted when the client ends. `options` is copied when the
// coroutine first runs, so it must outlive that first resumption (awaiting pump()
// directly is enough). By reference and without a default: GCC 12 mis-destroys
// defaulted by-value coroutine parameters.
net::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console,
                                const PumpOptions& options);

}  // namespace cgw::stream
