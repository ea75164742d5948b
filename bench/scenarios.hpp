// The client scenarios of cgw-bench. Each opens its connections through a Link
// (so every peer is measured by the same code), stops by itself (a count and a
// time limit), prints one line of key=value results on standard output and
// returns the process's exit status: 0 when the run was sound, 1 when it was not
// (a connection failed, no data moved).
#pragma once

#include "bench/options.hpp"
#include "bench/rfb.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace cgw::bench {

// Bulk transfer for `seconds` after `warmup`, over `streams` connections.
// down: the backend (source) sends, the client reads. up: the client sends
// `message`-byte WebSocket messages (masked) and the backend (sink) counts; the
// rate is what the backend acknowledged, not what the client queued.
// Prints "bulk … mb_per_s=… bytes=… total_bytes=…" (MB = 10^6 bytes).
//
// rfb: each connection first does the browser's RFB handshake (bench/rfb.hpp)
// with a vnc-source or vnc-sink backend. Down then checks every
// FramebufferUpdate's header. Up sends `rfb_stream` in writes of at most
// `message` bytes, each whole messages, and its rate counts the bytes the
// client wrote in the window: the server's acknowledgements come back through
// the gateway's other direction, which a busy up direction can hold back for a
// good part of a second, so they cannot time the window. The sockets on the
// way hold a few MB at most, under 1% of a 3 s run. Also printed:
// acked_mb_per_s, the stream's bytes up to the last FramebufferUpdateRequest
// the server acknowledged (a stream whose input a view-only gateway drops is
// counted as the browser sent it), and server_mb_per_s, what reached it.
struct BulkOptions {
  Target target;
  enum class Direction { down, up } direction = Direction::down;
  unsigned streams = 1;
  std::chrono::duration<double> seconds{3};
  std::chrono::duration<double> warmup{0.5};
  std::size_t message = 64 * 1024;
  std::size_t read_buffer = 256 * 1024;
  unsigned threads = 1;
  bool rfb = false;
  rfb::StreamKind rfb_stream = rfb::StreamKind::viewer;
};
int run_bulk(const BulkOptions& options);

// Round trips of `size`-byte messages through an echo backend, one at a time,
// after `warmup` unmeasured ones. Prints "rtt … p50_us=… p99_us=…".
struct RttOptions {
  Target target;
  std::uint64_t count = 10000;
  std::uint64_t warmup = 200;
  std::size_t size = 16;
  std::chrono::duration<double> max_seconds{60};
};
int run_rtt(const RttOptions& options);

// Opens `sessions` sessions, `parallel` at a time; each counts once it has the
// backend's RFB greeting. Prints "idle open=N …" when all are open, holds them
// until SIGINT/SIGTERM/SIGUSR1 or `hold` passes, then prints "idle closed …".
struct IdleOptions {
  Target target;
  std::uint64_t sessions = 100;
  unsigned parallel = 64;
  std::chrono::duration<double> open_timeout{120};
  std::chrono::duration<double> hold{600};
  unsigned threads = 1;
};
int run_idle(const IdleOptions& options);

// Session setup, `concurrency` at a time, `count` sessions or `max_seconds`:
// connect, TLS, upgrade, first byte from the backend (rfb: the browser's RFB
// handshake up to ServerInit), close. Prints "setup … rate_per_s=… p50_ms=…
// p99_ms=…".
struct SetupOptions {
  Target target;
  unsigned concurrency = 8;
  std::uint64_t count = 1000;
  std::chrono::duration<double> max_seconds{60};
  std::chrono::duration<double> session_timeout{10};
  unsigned threads = 1;
  bool rfb = false;
};
int run_setup(const SetupOptions& options);

}  // namespace cgw::bench
