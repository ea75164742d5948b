#include "tunnel/ssh_transport.hpp"

#include <boost/asio/error.hpp>

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace cgw::tunnel {
namespace {

SshTransport& transport_of(void** abstract) { return *static_cast<SshTransport*>(*abstract); }

LIBSSH2_SEND_FUNC(send_callback) {
  (void)socket;
  (void)flags;
  return transport_of(abstract).send(buffer, length);
}

LIBSSH2_RECV_FUNC(receive_callback) {
  (void)socket;
  (void)flags;
  return transport_of(abstract).receive(buffer, length);
}

// libssh2_session_callback_set takes the callback as void*.
template <class Function>
void* as_callback(Function* function) {
  void* pointer = nullptr;
  static_assert(sizeof(pointer) == sizeof(function));
  std::memcpy(&pointer, &function, sizeof(pointer));
  return pointer;
}

}  // namespace

SshTransport::SshTransport(int fd, std::function<void()> on_queued)
    : fd_(fd), on_queued_(std::move(on_queued)) {}

void SshTransport::attach(LIBSSH2_SESSION* session) const {
  libssh2_session_callback_set(session, LIBSSH2_CALLBACK_SEND, as_callback(&send_callback));
  libssh2_session_callback_set(session, LIBSSH2_CALLBACK_RECV, as_callback(&receive_callback));
}

ssize_t SshTransport::send(const void* data, std::size_t length) {
  if (closed_) return static_cast<ssize_t>(length);
  if (error_) return -ECONNRESET;
  const char* bytes = static_cast<const char*>(data);
  std::size_t sent = 0;
  // Only the head of the queue may go to the kernel, or bytes would be reordered.
  if (queued() == 0) {
    const ssize_t n = ::send(fd_, bytes, length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent = static_cast<std::size_t>(n);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      fail(errno);
      return -ECONNRESET;
    }
  }
  if (sent < length) {
    const bool was_empty = queued() == 0;
    out_.insert(out_.end(), bytes + sent, bytes + length);
    if (was_empty && on_queued_) on_queued_();
  }
  return static_cast<ssize_t>(length);
}

ssize_t SshTransport::receive(void* data, std::size_t length) {
  if (closed_ || error_) return -ECONNRESET;
  const ssize_t n = ::recv(fd_, data, length, MSG_DONTWAIT);
  if (n > 0) {
    received_ += static_cast<std::uint64_t>(n);
    // The socket is drained: acknowledge now rather than after the kernel's
    // delayed-ACK timer (40 ms). OpenSSH's sshd leaves Nagle on for sessions
    // without a terminal, so the next small packet it has for us (a console's
    // first bytes after the channel-open confirmation, an echo) waits for this
    // ACK. A full read (bulk) is followed by another one and needs no nudge.
    if (static_cast<std::size_t>(n) < length) {
      const int one = 1;
      ::setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    return n;
  }
  if (n == 0) {
    error_ = boost::asio::error::eof;
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -EAGAIN;
  const int error_number = errno;
  fail(error_number);
  return -error_number;
}

bool SshTransport::flush() {
  if (closed_) {
    out_.clear();
    out_head_ = 0;
    return true;
  }
  while (!error_ && queued() > 0) {
    const ssize_t n = ::send(fd_, out_.data() + out_head_, queued(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      fail(errno);
      break;
    }
    out_head_ += static_cast<std::size_t>(n);
  }
  // Keep the buffer's front from growing forever: compact once half of it is spent.
  if (out_head_ == out_.size()) {
    out_.clear();
    out_head_ = 0;
  } else if (out_head_ > out_.size() / 2) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_head_));
    out_head_ = 0;
  }
  return !error_;
}

void SshTransport::fail(int error_number) noexcept {
  error_ = boost::system::error_code(error_number, boost::system::system_category());
}

}  // namespace cgw::tunnel
