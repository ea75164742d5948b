// RFC 6455 framing for the server side of a WebSocket.
//
// Writing: headers of final, unmasked frames (the payload is sent from the caller's
// own buffer after it) and whole close and control frames.
//
// Reading: Decoder takes a client's bytes as they arrive, in pieces of any size, and
// unmasks the data payloads in place, moving them to the front of the same buffer,
// so a data message is never buffered; its size may be limited all the same
// (Decoder::limit_message_size: checked per frame header, not per byte). Only binary messages are
// accepted (the gateway carries VNC/SPICE bytes); a text frame fails the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::websocket {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA
};

// The longest header a server writes (unmasked, 64-bit length).
inline constexpr std::size_t max_header_size = 10;

// Writes the header of one final (FIN set), unmasked frame carrying `payload_size` bytes
// to `out` (which has max_header_size bytes of room); returns its length: 2, 4 or 10.
// Uses the shortest length encoding.
std::size_t write_header(std::uint8_t* out, Opcode opcode, std::uint64_t payload_size) noexcept;

// A whole unmasked close frame (header + 2-byte code + reason clipped to 123 bytes,
// clipped on a UTF-8 character boundary) ready to send.
std::string close_frame(std::uint16_t code, std::string_view reason);
// A whole unmasked frame of `opcode` (ping or pong) with `payload` (≤ 125 bytes; longer is
// clipped).
std::string control_frame(Opcode opcode, std::string_view payload);

// Decodes a client's (masked) frames, in place, in whatever pieces the bytes arrive.
//
// One lives in every session, so it is small: the state of the current frame, at most
// one partial header, and one string for control payloads that stays empty (and
// unallocated) unless control frames arrive. Data payloads never pass through it.
// Only a control payload longer than the string's inline room (15 bytes) allocates;
// should that allocation fail, decode() terminates (it is noexcept).
class Decoder {
 public:
  // Decodes the n raw bytes at buf. Every data payload byte (binary frames and their
  // continuation frames) is unmasked and moved to the front of buf, in order; returns
  // how many there are (buf[0, result)). Headers, masks and control frames are consumed.
  // A header or control frame split across calls is kept in the decoder (it holds at
  // most 14 header bytes and ≤125 control payload bytes) and completed by later calls.
  // When a call fails the decoder or receives the close frame, the data decoded before
  // that point is still returned and the rest of the input is ignored.
  // After failed() or close_received(), returns 0 and ignores its input.
  std::size_t decode(std::uint8_t* buf, std::size_t n) noexcept;

  // A data message (all its frames) longer than `max` bytes fails the decoder
  // with 1009 "message too big" as soon as the header that exceeds it arrives;
  // the payload before that header is still returned. 0: no limit (the default).
  void limit_message_size(std::uint64_t max) noexcept { max_message_ = max; }

  bool failed() const noexcept;
  // When failed(): the close code to send (1002 protocol error, 1003 unsupported data,
  // 1007 invalid payload) and a short reason in words, e.g. "unmasked client frame".
  // Otherwise 0 and "".
  std::uint16_t error_code() const noexcept;
  std::string_view error_reason() const noexcept;

  // The payload of the newest ping not yet answered (RFC 6455 lets a server answer only
  // the newest), taken once; nullopt when there is none.
  std::optional<std::string> take_ping();
  // A pong came (for keep-alive bookkeeping); reading it clears the flag.
  bool take_pong() noexcept;

  // The client's close frame has been decoded.
  bool close_received() const noexcept;
  // When close_received(): the client's code, 1005 when the frame carried none.
  std::uint16_t close_code() const noexcept;
  // When close_received(): the client's reason (valid UTF-8); valid until the next
  // call of take_ping() or the decoder's end.
  std::string_view close_reason() const noexcept;

 private:
  enum class Failure : std::uint8_t;

  bool stopped() const noexcept { return error_ != 0 || close_code_ != 0; }
  void fail(Failure why) noexcept;
  std::size_t read_header(const std::uint8_t* p, std::size_t n) noexcept;
  bool check_start(std::uint8_t b0, std::uint8_t b1) noexcept;
  void start_frame(const std::uint8_t* header) noexcept;
  void end_control_frame() noexcept;
  // control_'s first bytes that are the pending ping's payload.
  std::size_t ping_prefix() const noexcept { return ping_pending_ ? ping_len_ : 0; }

  // The pending ping's payload (when ping_pending_), followed by the payload read so far
  // of the control frame being read (or, once received, the close frame's reason).
  std::string control_;
  std::uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  std::uint64_t message_ = 0;    // payload bytes of the current data message so far
  std::uint64_t max_message_ = 0;
  std::uint32_t mask_ = 0;        // its key, in phase for the next payload byte
  std::uint16_t close_code_ = 0;  // nonzero once the close frame was received
  std::uint8_t header_[14] = {};  // a header split across calls, so far
  std::uint8_t header_len_ = 0;
  std::uint8_t ping_len_ = 0;
  std::uint8_t error_ = 0;       // a Failure; 0 while all is well
  std::uint8_t opcode_ : 4 = 0;  // of the frame whose payload is being read
  bool in_payload_ : 1 = false;
  bool in_message_ : 1 = false;  // a fragmented data message awaits continuation frames
  bool ping_pending_ : 1 = false;
  bool pong_ : 1 = false;
};

}  // namespace cgw::websocket
