// Helpers shared by the browser end's tests: close payloads, small socket
// buffers, a test certificate, and running an io_context until something has
// happened.
#pragma once

#include "tests/support/scratch.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cgw::test {

// A close frame's payload: the code in network order, then the reason.
inline std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  p += reason;
  return p;
}

// Before connecting, so that the windows TCP negotiates are small from the
// start: shrinking them later leaves the sender with a segment size (half the
// largest window it saw) that the new window never admits, and the connection
// stalls for good.
template <class Socket>
void small_buffers(Socket& socket) {
  socket.set_option(boost::asio::socket_base::send_buffer_size(4096));
  socket.set_option(boost::asio::socket_base::receive_buffer_size(4096));
}

// A certificate made for the test in `scratch`, served by `server` (which, as
// the gateway's, gives idle buffers back) and trusted by `client`.
inline void use_test_certificate(const Scratch& scratch, boost::asio::ssl::context& server,
                                 boost::asio::ssl::context& client) {
  const auto [cert, key] = scratch.tls_certificate("server");
  server.use_certificate_chain_file(cert);
  server.use_private_key_file(key, boost::asio::ssl::context::pem);
  SSL_CTX_set_mode(server.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  client.load_verify_file(cert);
  client.set_verify_mode(boost::asio::ssl::verify_peer);
}

// Runs `ioc` until `done()` holds; false if `limit` passed first (or nothing
// was left to run).
template <class Pred>
bool run_until(boost::asio::io_context& ioc, Pred done,
               std::chrono::steady_clock::duration limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  ioc.restart();
  while (!done()) {
    if (ioc.run_one_until(deadline) == 0) return done();
  }
  return true;
}

}  // namespace cgw::test
