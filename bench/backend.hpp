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
  enum class Mode { source, sink, echo, rfb };
  Mode mode = Mode::source;
  std::string listen = "127.0.0.1";
  std::uint16_t port = 0;
  std::uint64_t bytes = 0;  // source: per connection; 0 = until the peer goes away
  std::size_t chunk = 64 * 1024;
  std::uint64_t ack_every = 1 << 20;  // sink; 0 = never
  unsigned threads = 1;
  std::chrono::duration<double> lifetime{3600};
};

int run_backend(const BackendOptions& options);

}  // namespace cgw::bench
