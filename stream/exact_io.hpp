// Exact reads and whole writes on a ByteStream, for the handshakes of the
// console layers (RFB, the SPICE link), which read a protocol's messages field
// by field and must not consume a byte of what follows them.
#pragma once

#include "stream/byte_stream.hpp"

#include <cstdint>
#include <span>

namespace cgw::stream {

// Reads exactly buf.size() bytes (never more). A stream that can wait without
// a buffer is waited on first, since its read_some does not block (and may
// complete with 0 bytes).
boost::asio::awaitable<error_code> read_exact(ByteStream& s, std::span<std::uint8_t> buf);

// Writes all of buf.
boost::asio::awaitable<error_code> write_all(ByteStream& s, std::span<const std::uint8_t> buf);

}  // namespace cgw::stream
