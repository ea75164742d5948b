// Session recording (docs/recording.md): what the browser of a console saw,
// byte for byte with the time it came, in one file per session, so that
// `console-gw replay` can show it to noVNC again.
//
// - Recorder: the gateway's one writer thread and its bounded queue. Files are
//   opened, written and closed on that thread only, so a network thread never
//   waits for a disk.
// - Recording: one session's file, as the session's thread sees it: append()
//   copies the bytes into the queue and returns. When the file would pass
//   recording.max_bytes, or the writer is more than max_pending bytes behind
//   for it (or max_pending_total for all sessions), the recording stops (one log line) and the
//   console goes on.
// - RecordingStream: the layer that records, around the browser's end of the
//   session (stream/byte_stream.hpp): what is written to it went to the browser
//   (after the gateway's RFB security layer: the handshake the browser saw
//   offered no authentication), what is read from it came from the browser
//   (recorded with include_input only).
//
// File format, version 1: one JSON line (format, version, session, host,
// domain, domain_name, console, started, include_input; never the token), then
// frames of direction (1 byte: 0 to the browser, 1 from it), milliseconds since
// the start (u32, big-endian), length (u32, big-endian) and the bytes.
#pragma once

#include "gateway/config.hpp"
#include "stream/byte_stream.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::gateway {

inline constexpr std::string_view recording_format = "console-gw-recording";
inline constexpr int recording_version = 1;
inline constexpr std::size_t recording_frame_header = 9;

enum class RecordedDirection : std::uint8_t { to_browser = 0, from_browser = 1 };

// What the header line says of a session.
struct RecordingHeader {
  std::uint64_t session = 0;
  std::string host;
  std::string uuid;
  std::string domain_name;
  std::string console = "vnc";
  std::chrono::system_clock::time_point started;
  bool include_input = false;
};

// The header line, ending in '\n'.
std::string recording_header_line(const RecordingHeader& header);

// "20261205T084642Z-s12-local-<uuid>.cgwrec": start (UTC), session, host, domain.
std::string recording_file_name(const RecordingHeader& header);

// One frame's 9-byte header.
std::array<unsigned char, recording_frame_header> recording_frame_prefix(RecordedDirection d,
                                                                         std::uint32_t t_ms,
                                                                         std::uint32_t length);

class Recording;

class Recorder {
 public:
  // How far the writer may fall behind one session before its recording stops.
  static constexpr std::uint64_t default_max_pending = 8 * 1024 * 1024;
  // ... all sessions together: the most the queue holds.
  static constexpr std::uint64_t default_max_pending_total = 64 * 1024 * 1024;

  explicit Recorder(RecordingConfig config, std::uint64_t max_pending = default_max_pending,
                    std::uint64_t max_pending_total = default_max_pending_total);
  // Writes what is queued (closing the files of sessions that ended) and joins
  // the writer. The Server destroys it after its sessions.
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  const RecordingConfig& config() const noexcept;

  // Starts recording a session (its file is created on the writer thread).
  // `log_prefix` begins its log lines ("session 12"). Any thread.
  std::shared_ptr<Recording> start(const RecordingHeader& header, std::string log_prefix);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// One session's recording. append() and finish() are called on the session's
// thread only; neither waits for the disk.
class Recording {
 public:
  struct State;
  explicit Recording(std::shared_ptr<State> state);
  ~Recording();  // finish()
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

  bool include_input() const noexcept;
  // Records `data` going `direction` now. After the recording stopped: nothing.
  void append(RecordedDirection direction, const void* data, std::size_t size);
  // The session ended: the file is closed once what is queued is written.
  void finish();
  bool active() const noexcept;
  std::string path() const;

 private:
  std::shared_ptr<State> state_;
};

// The recording layer around the browser's end (not owned): forwards every
// call, and hands what passes to `recording`.
class RecordingStream final : public stream::ByteStream {
 public:
  RecordingStream(stream::ByteStream& browser, std::shared_ptr<Recording> recording);

  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) override;
  bool can_wait_readable() const noexcept override { return browser_.can_wait_readable(); }
  boost::asio::awaitable<stream::error_code> wait_readable() override;
  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buf) override;
  boost::asio::awaitable<void> close(stream::EndReason why) override;
  void abort() noexcept override { browser_.abort(); }
  bool is_open() const noexcept override { return browser_.is_open(); }
  std::optional<stream::EndReason> ending() const override { return browser_.ending(); }

 private:
  stream::ByteStream& browser_;
  std::shared_ptr<Recording> recording_;
};

// A recording read back (console-gw replay, the tests).
struct RecordedFrame {
  RecordedDirection direction = RecordedDirection::to_browser;
  std::uint32_t t_ms = 0;
  std::string bytes;
};

struct RecordingFile {
  std::string header_line;  // without the '\n'
  RecordingHeader header;
  std::vector<RecordedFrame> frames;
  bool truncated = false;  // the last frame was cut short (the gateway stopped mid-write)
};

// Reads a recording; throws ConfigError ("FILE: problem") when it is not one.
RecordingFile read_recording(const std::string& path);

}  // namespace cgw::gateway
