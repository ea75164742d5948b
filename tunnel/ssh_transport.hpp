// SshTransport: the bytes under one libssh2 session. Internal to cgw::tunnel.
//
// libssh2 reaches the TCP socket only through this object's send and receive
// callbacks (LIBSSH2_CALLBACK_SEND / RECV). The send side never makes libssh2
// wait: what the kernel does not take at once is queued here and flushed by the
// session's writer when the socket becomes writable. This matters because
// libssh2 keeps a partly sent packet as session-wide state that only the call
// which started it may finish; with many channels on one session a partial send
// would otherwise stall every other channel (or all of them, if the call that
// started it never comes back). The queue is bounded by its users: SshSession
// stops feeding channel data while queued() is above its high-water mark.
//
// Owns no file descriptor (the session's Asio socket does). Used from the
// session's strand only, including from inside libssh2 calls made there.
#pragma once

#include <libssh2.h>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace cgw::tunnel {

class SshTransport {
 public:
  // `on_queued` runs (inside a libssh2 call) when bytes start waiting in the queue.
  SshTransport(int fd, std::function<void()> on_queued);
  SshTransport(const SshTransport&) = delete;
  SshTransport& operator=(const SshTransport&) = delete;

  // Installs the callbacks on `session`, which must have been created with this
  // object as its abstract pointer (libssh2_session_init_ex(..., this)).
  void attach(LIBSSH2_SESSION* session) const;

  // Writes queued bytes until the kernel stops taking them. False once the
  // connection has failed (error() says why).
  bool flush();
  std::size_t queued() const noexcept { return out_.size() - out_head_; }

  // Bytes received so far; a change means libssh2 may have buffered data that
  // some other channel is waiting for.
  std::uint64_t received() const noexcept { return received_; }

  // Set when a send or receive failed or the peer closed the connection.
  bool failed() const noexcept { return static_cast<bool>(error_); }
  const boost::system::error_code& error() const noexcept { return error_; }

  // From now on sends are dropped and receives fail, so that libssh2 can free the
  // session and its channels without waiting for anything (never EAGAIN).
  void close() noexcept { closed_ = true; }

  // The callbacks' bodies.
  ssize_t send(const void* data, std::size_t length);
  ssize_t receive(void* data, std::size_t length);

 private:
  void fail(int error_number) noexcept;

  int fd_;
  std::function<void()> on_queued_;
  std::vector<char> out_;
  std::size_t out_head_ = 0;
  std::uint64_t received_ = 0;
  boost::system::error_code error_;
  bool closed_ = false;
};

}  // namespace cgw::tunnel
