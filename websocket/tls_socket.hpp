// TlsSocket: the server's end of a TLS connection, with OpenSSL driven directly
// on the socket without blocking, for the HTTP phase (a Beast AsyncStream) and
// then for WsStream (websocket/ws_stream.hpp), which frames into it.
//
// Why not Asio's ssl::stream (docs/design.md, "TLS"): it moves every record
// through a BIO pair and an extra buffer, and sends each 16 KiB record with a
// system call of its own. Here OpenSSL reads straight from the socket (with
// read-ahead, several records per recv) and writes its records into one output
// buffer that leaves in one send: a 64 KiB message is one system call. With
// SSL_MODE_RELEASE_BUFFERS (set on the context) and the output buffer freed once
// sent, an idle session holds no record buffers.
//
// Used on the session's thread only; at most one read and one write at a time.
// Movable (the state lives on the heap: OpenSSL's BIOs point into it).
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/error.hpp>

#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace cgw::websocket {

class TlsSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;
  using error_code = stream::error_code;

  // `initial`: bytes already read from the socket (the start of the ClientHello).
  TlsSocket(tcp::socket socket, SSL_CTX* context, std::string_view initial);
  TlsSocket(TlsSocket&&) noexcept;
  TlsSocket& operator=(TlsSocket&&) noexcept;
  ~TlsSocket();

  executor_type get_executor();
  tcp::socket& socket();

  // The server's handshake; within the time limit set by expires_after().
  boost::asio::awaitable<error_code> handshake();

  // A time limit for what follows (the handshake, an HTTP request): when it
  // passes, the socket is closed and what is under way fails with
  // beast::error::timeout, as with beast::tcp_stream.
  void expires_after(std::chrono::steady_clock::duration limit);
  void expires_never();

  // Without blocking: decrypted bytes into `buf`, up to its size; would_block
  // when there are none yet. `drained`: OpenSSL asked the socket for more and it
  // had none, so the next read should wait for readability first.
  std::size_t read_some(boost::asio::mutable_buffer buf, error_code& ec, bool& drained);
  // Decrypted bytes held, or bytes read before TLS was known to be spoken:
  // readable without waiting for the socket.
  bool input_buffered() const;
  boost::asio::awaitable<error_code> wait_read();

  // Encrypts all of `buffers` (one record when it fits in one), then sends what
  // the socket takes now. Returns the bytes taken: all, unless ec says why not.
  // What the socket did not take waits in output_pending() for flush() or the
  // next write.
  std::size_t write_some(std::span<const boost::asio::const_buffer> buffers, error_code& ec);
  bool output_pending() const;
  // Waits for room until everything encrypted has been sent.
  boost::asio::awaitable<error_code> flush();
  // write_some(), then flush().
  boost::asio::awaitable<error_code> write_all(std::span<const boost::asio::const_buffer> buffers);

  // A TLS close_notify, then the TCP FIN, when nothing is left unsent.
  void shutdown_send();
  void close();
  bool is_open() const;

  // Beast's AsyncReadStream and AsyncWriteStream, for the HTTP phase.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (const boost::asio::mutable_buffer b : boost::beast::buffers_range_ref(buffers)) {
      if (b.size() != 0) {
        first = b;
        break;
      }
    }
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        ReadOp{this, first, 0, {}, 0}, token, socket());
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        WriteOp<ConstBuffers>{this, buffers, 0, {}, 0}, token, socket());
  }

 private:
  struct State;

  // After an immediate result the op is posted once, so that it never completes
  // inside the call that started it.
  struct ReadOp {
    TlsSocket* self_;
    boost::asio::mutable_buffer buf;
    int step = 0;  // 0 start, 1 waited for the socket, 2 done (posted)
    error_code result;
    std::size_t n = 0;

    template <class Self>
    void operator()(Self& self, error_code waited = {}) {
      if (step == 2) return self.complete(result, n);
      if (step == 1 && waited) return self.complete(self_->failure(waited), 0);
      if (buf.size() != 0) {
        bool drained = false;
        n = self_->read_some(buf, result, drained);
        if (stream::would_block(result)) {
          step = 1;
          self_->socket().async_wait(tcp::socket::wait_read, std::move(self));
          return;
        }
        if (result) {
          result = self_->failure(result);
          n = 0;
        }
      }
      if (step == 0) {
        step = 2;
        auto executor = self_->get_executor();
        boost::asio::post(executor, std::move(self));
        return;
      }
      self.complete(result, n);
    }
  };

  template <class ConstBuffers>
  struct WriteOp {
    TlsSocket* self_;
    ConstBuffers buffers;
    int step = 0;  // 0 start, 1 waiting for room, 2 done (posted)
    error_code result;
    std::size_t total = 0;

    template <class Self>
    void operator()(Self& self, error_code waited = {}) {
      if (step == 2) return self.complete(result, result ? 0 : total);
      if (step == 0) {
        // Beast writes a header and a body part or two: encrypt them, then send.
        std::array<boost::asio::const_buffer, 8> pieces;
        std::size_t count = 0;
        for (const boost::asio::const_buffer b : boost::beast::buffers_range_ref(buffers)) {
          if (b.size() == 0) continue;
          if (count == pieces.size()) {
            self_->write_some(std::span(pieces.data(), count), result);
            count = 0;
            if (result && !stream::would_block(result)) break;
            result = {};
          }
          pieces[count++] = b;
          total += b.size();
        }
        if (!result && count != 0) self_->write_some(std::span(pieces.data(), count), result);
        if (stream::would_block(result)) result = {};
      } else {
        if (waited) return self.complete(self_->failure(waited), 0);
        result = self_->send_pending();
        if (stream::would_block(result)) result = {};
      }
      if (!result && self_->output_pending()) {
        step = 1;
        self_->socket().async_wait(tcp::socket::wait_write, std::move(self));
        return;
      }
      if (result) result = self_->failure(result);
      if (step == 0) {
        step = 2;
        auto executor = self_->get_executor();
        boost::asio::post(executor, std::move(self));
        return;
      }
      self.complete(result, result ? 0 : total);
    }
  };

  // Sends what waits encrypted; would_block when the socket took less.
  error_code send_pending();
  // An error, or beast::error::timeout when the time limit caused it.
  error_code failure(error_code ec) const;

  std::unique_ptr<State> s_;
};

}  // namespace cgw::websocket
