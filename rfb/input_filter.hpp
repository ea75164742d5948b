// InputFilter: the view-only filter of the browser → VNC server RFB stream.
//
// It reads the client-to-server messages of RFB 3.8 (after the security
// handshake, starting at ClientInit) as they arrive, in chunks split anywhere,
// and says which bytes go on to the server: input (KeyEvent, PointerEvent,
// ClientCutText in both forms, QEMU extended key events) and messages that act
// on the machine (xvp power control, SetDesktopSize) are dropped; what a viewer
// needs (SetPixelFormat, SetEncodings, FramebufferUpdateRequest,
// EnableContinuousUpdates, ClientFence, QEMU audio) passes byte for byte.
// ClientInit passes with its shared flag forced to 1, so that a viewer never
// disconnects the other clients. Anything else — a message type it does not
// know (gii 253 among them: noVNC does not send it), a fence payload over 64
// bytes, a QEMU subtype or audio operation it does not know — is a violation:
// the filter fails closed, and stays failed.
//
// State is O(1): a message's payload is counted, never buffered, and only the
// few header bytes that decide a length (at most 12) are kept across chunks.
//
// Threading: one filter belongs to one session's browser → server direction;
// not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::rfb {

using Bytes = std::span<const std::uint8_t>;

// What to forward of one chunk: `keep`, in order. Each piece is a part of the
// chunk or a few bytes of the filter's own (the forced ClientInit flag, the
// header of a QEMU message whose verdict was decided in a later chunk).
// Adjacent parts of the chunk are merged: a chunk of which nothing is dropped
// gives one piece, the whole chunk. The pieces are valid until the next feed().
struct FilterResult {
  std::span<const Bytes> keep;
  // Empty when the chunk was fine; else why the session must end.
  std::string_view error;

  bool ok() const noexcept { return error.empty(); }
};

// Counts of whole messages decided so far (a message is counted when its
// verdict is known, before all of its bytes may have arrived).
struct FilterCounters {
  std::uint64_t passed = 0;   // messages forwarded, ClientInit included
  std::uint64_t dropped = 0;  // input messages dropped
  std::uint64_t bytes_dropped = 0;
};

class InputFilter {
 public:
  InputFilter();

  // Filters the next chunk of the browser's bytes. After a violation every
  // later call returns the same error and keeps nothing.
  FilterResult feed(Bytes chunk);

  bool failed() const noexcept { return !error_.empty(); }
  const std::string& error_text() const noexcept { return error_; }
  const FilterCounters& counters() const noexcept { return counters_; }

 private:
  enum class State : std::uint8_t { client_init, type, header, body };
  enum class Verdict : std::uint8_t { pass, drop, undecided };

  // Called when the header of the current message is complete; sets the
  // verdict and the body length, or the error.
  bool header_complete();
  void fail(std::string text);

  State state_ = State::client_init;
  Verdict verdict_ = Verdict::pass;
  std::uint8_t header_have_ = 0;  // header bytes of the current message so far
  std::uint8_t header_need_ = 0;  // header bytes that decide its length
  std::uint8_t header_held_ = 0;  // undecided header bytes from earlier chunks
  std::uint64_t body_left_ = 0;   // bytes of the current message still to come
  std::array<std::uint8_t, 12> header_{};
  // A held header that was kept after all: at most one a chunk (only a message
  // that began in an earlier chunk has any).
  std::array<std::uint8_t, 4> held_{};
  FilterCounters counters_;
  std::string error_;
  std::vector<Bytes> keep_;  // the last result's pieces, reused
};

}  // namespace cgw::rfb
