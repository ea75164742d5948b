// The RFB 3.8 (RFC 6143) that cgw-bench speaks, so that the gateway's RFB layer
// and its view-only filter can be measured on real VNC traffic: the server's
// side for the backend (vnc-source, vnc-sink), the browser's for the client
// (bulk --rfb, setup --rfb), and the messages both exchange.
//
//   handshake  version 3.8, security None, ClientInit (shared), ServerInit of a
//              1024x768 screen, 32 bpp true colour, named "cgw-bench".
//   down       the server sends back-to-back FramebufferUpdates of one Raw
//              rectangle of the whole screen (3 MiB each) once the client has
//              asked for one; the client checks every update's header.
//   up         the client sends one of two streams of whole client messages
//              (ClientStream), each write the same; the server parses them
//              (ClientParser, which ends the session at anything malformed)
//              and acknowledges with ServerCutText whose 16-byte text is two
//              little-endian u64: bytes received and FramebufferUpdateRequests
//              received, so the client can count what its stream's requests
//              say was processed even when a filter drops the rest.
//
// Everything here is plain data and functions; the coroutines that use them
// live with their transport (backend.cpp, bulk.cpp, setup.cpp).
#pragma once

#include "bench/link.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::bench::rfb {

inline constexpr std::string_view version = "RFB 003.008\n";
inline constexpr std::uint8_t security_none = 1;
inline constexpr std::uint16_t screen_width = 1024;
inline constexpr std::uint16_t screen_height = 768;
inline constexpr std::uint8_t bytes_per_pixel = 4;
inline constexpr std::string_view desktop_name = "cgw-bench";

// Client message types (RFC 6143 7.5).
enum ClientType : std::uint8_t {
  set_pixel_format = 0,
  set_encodings = 2,
  framebuffer_update_request = 3,
  key_event = 4,
  pointer_event = 5,
  client_cut_text = 6,
};

// The server's ServerInit: size, pixel format (32 bpp, depth 24, little-endian
// true colour, red at bit 16) and name.
std::vector<std::uint8_t> server_init();
// SetPixelFormat with the same pixel format, as noVNC sends it.
std::array<std::uint8_t, 20> set_pixel_format_message();

// One FramebufferUpdate: the 4-byte header and one Raw rectangle of the whole
// screen, pixels included. What the down direction sends again and again.
inline constexpr std::size_t update_header_size = 4 + 12;
inline constexpr std::size_t update_size =
    update_header_size + std::size_t{screen_width} * screen_height * bytes_per_pixel;
const std::vector<std::uint8_t>& framebuffer_update();

// Checks a down stream of FramebufferUpdates as framebuffer_update() makes
// them, in chunks split anywhere: every header must be the one expected.
class UpdateChecker {
 public:
  // False at the first header that is not one.
  bool feed(const std::uint8_t* data, std::size_t size);
  std::uint64_t updates() const { return updates_; }

 private:
  std::size_t offset_ = 0;  // in the current update
  std::uint64_t updates_ = 0;
};

// The server's view of the client's messages after ClientInit: whole-message
// counts by type, in chunks split anywhere. Anything a browser would not send
// (an unknown type, SetEncodings of more than 64 encodings, a cut text over
// 1 MiB) is an error.
struct ClientCounts {
  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  std::uint64_t set_pixel_format = 0;
  std::uint64_t set_encodings = 0;
  std::uint64_t update_requests = 0;
  std::uint64_t key_events = 0;
  std::uint64_t pointer_events = 0;
  std::uint64_t cut_texts = 0;
};

class ClientParser {
 public:
  // False, and error() says why, at the first malformed message; stays failed.
  bool feed(const std::uint8_t* data, std::size_t size);
  const ClientCounts& counts() const { return counts_; }
  const std::string& error() const { return error_; }
  // "messages=… set_pixel_format=… …" for the backend's session line.
  std::string summary() const;

 private:
  bool header_done();

  std::array<std::uint8_t, 10> header_{};
  std::size_t header_have_ = 0;
  std::size_t header_need_ = 0;  // 0: waiting for a type byte
  std::size_t tail_ = 0;         // fixed bytes after the header
  std::uint64_t body_left_ = 0;
  ClientCounts counts_;
  std::string error_;
};

// The server's acknowledgement: ServerCutText with a 16-byte text.
inline constexpr std::size_t ack_size = 8 + 16;
std::array<std::uint8_t, ack_size> ack_message(std::uint64_t bytes, std::uint64_t update_requests);
struct Ack {
  std::uint64_t bytes = 0;
  std::uint64_t update_requests = 0;
};
// nullopt when `record` is not an acknowledgement.
std::optional<Ack> parse_ack(const std::array<std::uint8_t, ack_size>& record);

// The browser → server streams of the up direction, as the bytes of one write.
enum class StreamKind {
  // What a viewer sends and the view-only filter passes: FramebufferUpdateRequests
  // (incremental, of the whole screen), with a SetPixelFormat and a SetEncodings
  // of noVNC's 14 encodings every 40 requests.
  viewer,
  // Input: PointerEvents (motion, 3 in 4) and KeyEvents (press and release, 1
  // in 4), with one FramebufferUpdateRequest every 256 bytes; view-only drops
  // all but the requests.
  input,
};
struct ClientStream {
  std::vector<std::uint8_t> bytes;    // whole messages, at most the size asked
  std::uint64_t update_requests = 0;  // FramebufferUpdateRequests in `bytes`
};
ClientStream client_stream(StreamKind kind, std::size_t size);

// The browser's side of the handshake over `link`, up to and including
// ServerInit; throws std::runtime_error naming the step that failed. `request`:
// then sends SetEncodings (Raw) and a FramebufferUpdateRequest of the whole
// screen, which starts a vnc-source backend.
boost::asio::awaitable<void> browser_handshake(Link& link, bool request);

}  // namespace cgw::bench::rfb
