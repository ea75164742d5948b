// The console stand-in every peer relays to: a TCP server on the loopback with
// one behaviour per process.
//
//   source  writes `chunk` bytes at a time to each connection until the peer
//           goes away (or `bytes` were sent): the VNC direction, server to browser.
//   sink    reads and discards; every `ack_every` bytes it writes the running
//           total back as an 8-byte little-endian number, so the client can
//           count what reached the console, not what it handed to its socket.
//   echo    writes back what it reads.
//   rfb     sends the RFB 3.8 greeting ("RFB 003.008\n"), then echoes.
//   vnc-source  a VNC server (bench/rfb.hpp): the RFB 3.8 handshake with
//           security None and ServerInit, then, from the client's first
//           FramebufferUpdateRequest on, whole-screen Raw FramebufferUpdates
//           back to back, `chunk` bytes a write, until the peer goes away.
//   vnc-sink  the same handshake, then parses the client's messages (a
//           malformed one ends the session) and acknowledges with ServerCutText
//           every `ack_every` bytes or 65536 FramebufferUpdateRequests. Each
//           session prints "vnc-sink session: bytes=… update_requests=… …".
//
// run_backend() prints "backend mode=<mode> port=<port>" once listening (so a
// script can pass port 0 and read the real one) and returns when signalled
// (SIGINT, SIGTERM) or after `lifetime`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace cgw::bench {

struct BackendOptions {
  enum class Mode { source, sink, echo, rfb, vnc_source, vnc_sink };
  Mode mode = Mode::source;
  std::string listen = "127.0.0.1";
  std::uint16_t port = 0;
  std::uint64_t bytes = 0;  // source: per connection; 0 = until the peer goes away
  std::size_t chunk = 64 * 1024;
  std::uint64_t ack_every = 1 << 20;  // sink, vnc-sink; 0 = never
  unsigned threads = 1;
  std::chrono::duration<double> lifetime{3600};
};

int run_backend(const BackendOptions& options);

}  // namespace cgw::bench
