#include "tunnel/libssh2_handles.hpp"

#include <stdexcept>

namespace cgw::tunnel {
namespace {

// Boost's error_category has a protected non-virtual destructor by design
// (categories are never deleted through a base pointer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Libssh2Category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "libssh2"; }

  std::string message(int value) const override {
    switch (-value) {
      case LIBSSH2_ERROR_SOCKET_NONE:
        return "socket error";
      case LIBSSH2_ERROR_BANNER_RECV:
        return "no SSH banner received";
      case LIBSSH2_ERROR_BANNER_SEND:
        return "SSH banner not sent";
      case LIBSSH2_ERROR_INVALID_MAC:
        return "invalid MAC";
      case LIBSSH2_ERROR_KEX_FAILURE:
        return "key exchange failed";
      case LIBSSH2_ERROR_ALLOC:
        return "out of memory";
      case LIBSSH2_ERROR_SOCKET_SEND:
        return "socket send failed";
      case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
        return "key exchange failed";
      case LIBSSH2_ERROR_TIMEOUT:
        return "timed out";
      case LIBSSH2_ERROR_HOSTKEY_INIT:
        return "host key initialisation failed";
      case LIBSSH2_ERROR_HOSTKEY_SIGN:
        return "host key signature invalid";
      case LIBSSH2_ERROR_DECRYPT:
        return "decryption failed";
      case LIBSSH2_ERROR_SOCKET_DISCONNECT:
        return "disconnected";
      case LIBSSH2_ERROR_PROTO:
        return "SSH protocol error";
      case LIBSSH2_ERROR_FILE:
        return "file not readable";
      case LIBSSH2_ERROR_METHOD_NONE:
        return "no common method";
      case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
        return "authentication failed";
      case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
        return "public key not verified";
      case LIBSSH2_ERROR_CHANNEL_FAILURE:
        return "channel open failed";
      case LIBSSH2_ERROR_CHANNEL_CLOSED:
        return "channel closed";
      case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
        return "channel EOF already sent";
      case LIBSSH2_ERROR_SOCKET_TIMEOUT:
        return "socket timed out";
      case LIBSSH2_ERROR_REQUEST_DENIED:
        return "request denied";
      case LIBSSH2_ERROR_EAGAIN:
        return "would block";
      case LIBSSH2_ERROR_SOCKET_RECV:
        return "socket receive failed";
      case LIBSSH2_ERROR_KNOWN_HOSTS:
        return "known hosts error";
      case LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
        return "key file authentication failed";
      default:
        return "libssh2 error " + std::to_string(value);
    }
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& libssh2_category() noexcept {
  static const Libssh2Category category;
  return category;
}

boost::system::error_code make_libssh2_error(int rc) noexcept { return {-rc, libssh2_category()}; }

void ensure_libssh2_initialised() {
  // libssh2_init is not thread-safe and must run before any session exists; the
  // matching libssh2_exit is left to process exit, when no session can remain.
  static const int rc = libssh2_init(0);
  if (rc != 0) throw std::runtime_error("libssh2_init failed");
}

std::string last_error_message(LIBSSH2_SESSION* session) {
  char* message = nullptr;
  int length = 0;
  libssh2_session_last_error(session, &message, &length, 0);
  if (!message || length <= 0) return {};
  return std::string(message, static_cast<std::size_t>(length));
}

}  // namespace cgw::tunnel
