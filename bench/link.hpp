// Link: one client connection to the system under test, as every scenario sees
// it: read some bytes, write bytes, close.
//
// Over plain TCP (socat, or the backend itself) bytes go as they are. Over a
// WebSocket (ws:// or wss://) each write is one binary message in one frame,
// masked as a browser masks it, and reads return message payload with the
// boundaries dropped, as noVNC treats them.
//
// A Link is opened on one io_context and used from that context's thread only;
// at most one read and one write may be in flight at a time.
#pragma once

#include "bench/options.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <tuple>

namespace cgw::bench {

using boost::system::error_code;

class Link {
 public:
  virtual ~Link() = default;
  // At least one byte, or an error (boost::asio::error::eof, websocket::error::closed, …).
  virtual boost::asio::awaitable<std::tuple<error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer) = 0;
  // All of `buffer` (one WebSocket message), or an error.
  virtual boost::asio::awaitable<error_code> write(boost::asio::const_buffer buffer) = 0;
  // Closes the socket at once; pending operations complete with an error.
  virtual void close() noexcept = 0;
  // After a read failed: the WebSocket close code and reason the server sent,
  // e.g. "4401 missing token"; empty when there was none.
  virtual std::string close_reason() const = 0;
};

struct LinkOptions {
  boost::asio::ssl::context* tls = nullptr;  // required for wss://
  // The client's masking buffer: messages up to this size go out as one frame
  // in one write, as a browser sends them.
  std::size_t frame_bytes = 64 * 1024;
};

// Connects (TCP_NODELAY), then does the TLS handshake and the WebSocket upgrade
// when the target needs them. Throws boost::system::system_error.
boost::asio::awaitable<std::unique_ptr<Link>> open_link(Target target, const LinkOptions& options);

// One line for a failure: the error's own words, without the source location
// Boost adds to system_error::what().
std::string error_text(const std::exception& e);

// TLS 1.2 or 1.3 without certificate verification: the peers use bench/run's
// own self-signed certificate.
boost::asio::ssl::context make_client_tls();

}  // namespace cgw::bench
