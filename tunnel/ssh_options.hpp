// SshTunnelOptions: the limits and sizes every SSH session of SshTunnels uses
// (time limits, keepalive, channel window, send high water), as plain data.
#pragma once

#include <chrono>
#include <cstddef>

namespace cgw::tunnel {

struct SshTunnelOptions {
  // TCP connect, SSH handshake and authentication together; also the limit for
  // opening one channel (the server connects to the console meanwhile).
  std::chrono::milliseconds connect_timeout{10000};
  // A host's session is closed this long after its last channel closed.
  std::chrono::milliseconds idle_close{60000};
  // SSH keepalive: a request the server must answer. When two in a row bring
  // nothing back, or TCP data stays unacknowledged for three intervals, the
  // session is dropped (the next open reconnects). libssh2 needs at least 2 s.
  // Zero disables keepalives.
  std::chrono::seconds keepalive_interval{15};
  // The SSH window each channel offers: how much console output may be on its
  // way or waiting in this process, beyond one read, before the server has to
  // stop. It bounds memory per channel when the browser is slower than the console.
  // 256 KiB held bulk back (libssh2 tops the window up after almost every read,
  // and sshd stalls on an empty one): 1 MiB gave about 10% more down, 1 and 8
  // streams, in A/B runs (bench/changes.md); 2 MiB (OpenSSH's) no more than 1.
  std::size_t channel_window = 1024 * 1024;
  // Channel writes wait while this much is queued for the host's socket.
  std::size_t send_high_water = 1024 * 1024;
};

}  // namespace cgw::tunnel
