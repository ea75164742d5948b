// Small RAII owners of libssh2 handles, libssh2's error codes as an error
// category, and the library's one-time initialisation. Internal to cgw::tunnel.
//
// Every handle is move-only and frees what it owns in a noexcept destructor. They
// are used from the strand of the SSH session they belong to, like libssh2 itself.
#pragma once

#include <libssh2.h>

#include <boost/system/error_code.hpp>

#include <string>
#include <utility>

namespace cgw::tunnel {

// libssh2's negative LIBSSH2_ERROR_* codes, as error codes (value = -code).
const boost::system::error_category& libssh2_category() noexcept;
boost::system::error_code make_libssh2_error(int rc) noexcept;

// Calls libssh2_init once per process; safe from any thread.
void ensure_libssh2_initialised();

// libssh2's message for the last error on `session` ("" when there is none).
std::string last_error_message(LIBSSH2_SESSION* session);

// Owns a LIBSSH2_SESSION. The session must be in a state where freeing it cannot
// return EAGAIN (SshTransport's closed mode guarantees that); channels still
// attached are freed with it, so no ChannelHandle may outlive its SessionHandle.
class SessionHandle {
 public:
  SessionHandle() = default;
  explicit SessionHandle(LIBSSH2_SESSION* session) noexcept : session_(session) {}
  SessionHandle(SessionHandle&& other) noexcept
      : session_(std::exchange(other.session_, nullptr)) {}
  SessionHandle& operator=(SessionHandle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.session_, nullptr));
    return *this;
  }
  SessionHandle(const SessionHandle&) = delete;
  SessionHandle& operator=(const SessionHandle&) = delete;
  ~SessionHandle() { reset(); }

  void reset(LIBSSH2_SESSION* session = nullptr) noexcept {
    if (session_) libssh2_session_free(session_);
    session_ = session;
  }
  LIBSSH2_SESSION* get() const noexcept { return session_; }
  explicit operator bool() const noexcept { return session_ != nullptr; }

 private:
  LIBSSH2_SESSION* session_ = nullptr;
};

// Owns a LIBSSH2_CHANNEL. Freeing sends CHANNEL_CLOSE and waits for the peer's;
// in non-blocking mode that may return EAGAIN, in which case the channel stays
// attached to its session and is freed with it. SshSession therefore frees
// channels itself (retrying on EAGAIN) and calls release() once libssh2 is done.
class ChannelHandle {
 public:
  ChannelHandle() = default;
  explicit ChannelHandle(LIBSSH2_CHANNEL* channel) noexcept : channel_(channel) {}
  ChannelHandle(ChannelHandle&& other) noexcept
      : channel_(std::exchange(other.channel_, nullptr)) {}
  ChannelHandle& operator=(ChannelHandle&& other) noexcept {
    if (this != &other) reset(std::exchange(other.channel_, nullptr));
    return *this;
  }
  ChannelHandle(const ChannelHandle&) = delete;
  ChannelHandle& operator=(const ChannelHandle&) = delete;
  ~ChannelHandle() { reset(); }

  void reset(LIBSSH2_CHANNEL* channel = nullptr) noexcept {
    if (channel_) libssh2_channel_free(channel_);
    channel_ = channel;
  }
  // Forgets the channel without freeing it (libssh2 already did).
  void release() noexcept { channel_ = nullptr; }
  LIBSSH2_CHANNEL* get() const noexcept { return channel_; }
  explicit operator bool() const noexcept { return channel_ != nullptr; }

 private:
  LIBSSH2_CHANNEL* channel_ = nullptr;
};

// Owns a LIBSSH2_KNOWNHOSTS collection.
class KnownHostsHandle {
 public:
  explicit KnownHostsHandle(LIBSSH2_KNOWNHOSTS* hosts) noexcept : hosts_(hosts) {}
  KnownHostsHandle(KnownHostsHandle&& other) noexcept
      : hosts_(std::exchange(other.hosts_, nullptr)) {}
  KnownHostsHandle& operator=(KnownHostsHandle&&) = delete;
  KnownHostsHandle(const KnownHostsHandle&) = delete;
  KnownHostsHandle& operator=(const KnownHostsHandle&) = delete;
  ~KnownHostsHandle() {
    if (hosts_) libssh2_knownhost_free(hosts_);
  }
  LIBSSH2_KNOWNHOSTS* get() const noexcept { return hosts_; }
  explicit operator bool() const noexcept { return hosts_ != nullptr; }

 private:
  LIBSSH2_KNOWNHOSTS* hosts_ = nullptr;
};

}  // namespace cgw::tunnel
