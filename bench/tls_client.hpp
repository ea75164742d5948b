// TlsClient: the load tool's end of a TLS connection, with OpenSSL driven on
// the socket directly, without blocking; an AsyncStream that Beast's WebSocket
// stream runs over for wss://.
//
// Why not Asio's ssl::stream: it moves every record through a BIO pair and an
// extra buffer, and reads and sends one record per system call. The client
// shares the machine's two cores with what it measures, so its cost per byte
// lowers every wss number; with Asio's stream the client, not the server, was
// the bottleneck of wss bulk up (docs/benchmarks.md). Here OpenSSL reads
// straight from the socket with read-ahead (several records per recv), a read
// returns the records already in, and a write's records leave in one send.
//
// Used from one thread; at most one read and one write at a time.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace cgw::bench {

class TlsClient {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;
  using error_code = boost::system::error_code;

  // `server_name`: sent as SNI when it is a name, not an address.
  TlsClient(tcp::socket socket, SSL_CTX* context, const std::string& server_name);
  TlsClient(TlsClient&&) noexcept;
  TlsClient& operator=(TlsClient&&) noexcept;
  ~TlsClient();

  executor_type get_executor() { return socket_.get_executor(); }

  // Throws boost::system::system_error.
  boost::asio::awaitable<void> handshake();

  // Without blocking: the decrypted bytes already in, up to the buffer's size,
  // or would_block when there are none.
  std::size_t read_now(boost::asio::mutable_buffer buffer, error_code& ec);
  // Encrypts all of `pieces` into the output; a small piece shares a record
  // with what follows (Beast writes a frame as a header and a payload).
  std::size_t encrypt(std::span<const boost::asio::const_buffer> pieces, error_code& ec);
  // Sends the output; would_block when the socket took less than all of it.
  error_code send_output();

  // A close_notify when the socket takes it, then the close.
  void close(error_code& ec);

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
        Op<Read>{this, Read{first}}, token, socket_);
  }

  // Completes when the records are sent.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    Write write;
    for (const boost::asio::const_buffer b : boost::beast::buffers_range_ref(buffers)) {
      if (b.size() == 0) continue;
      if (write.count == write.pieces.size()) break;  // a write may take less than all
      write.pieces[write.count++] = b;
    }
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(Op<Write>{this, write},
                                                                            token, socket_);
  }

 private:
  struct Output;

  struct Read {
    static constexpr auto wait = tcp::socket::wait_read;
    boost::asio::mutable_buffer buffer;
    std::size_t attempt(TlsClient& client, bool /*first*/, error_code& ec) {
      return buffer.size() == 0 ? 0 : client.read_now(buffer, ec);
    }
  };

  struct Write {
    static constexpr auto wait = tcp::socket::wait_write;
    std::array<boost::asio::const_buffer, 8> pieces{};
    std::size_t count = 0;
    std::size_t taken = 0;
    // Encrypts once, then sends until the output is gone.
    std::size_t attempt(TlsClient& client, bool first, error_code& ec) {
      if (first) taken = client.encrypt(std::span(pieces.data(), count), ec);
      if (!ec) ec = client.send_output();
      return taken;
    }
  };

  // Tries, and waits for the socket while that would block. A result found at
  // once is posted, so that an op never completes inside the call that started it.
  template <class Kind>
  struct Op {
    TlsClient* client;
    Kind kind;
    int step = 0;  // 0 started, 1 waited, 2 posted
    error_code result{};
    std::size_t n = 0;

    template <class Self>
    void operator()(Self& self, error_code waited = {}) {
      if (step == 2) return self.complete(result, n);
      if (waited) return self.complete(waited, 0);
      n = kind.attempt(*client, step == 0, result);
      if (result == boost::asio::error::would_block) {
        step = 1;
        result = {};
        return client->socket_.async_wait(Kind::wait, std::move(self));
      }
      if (result) n = 0;
      if (step == 0) {
        step = 2;
        return boost::asio::post(client->socket_.get_executor(), std::move(self));
      }
      self.complete(result, n);
    }
  };

  struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
  };

  tcp::socket socket_;
  std::unique_ptr<Output> out_;  // on the heap: OpenSSL's write BIO points into it
  std::unique_ptr<SSL, SslFree> ssl_;
};

// Beast's WebSocket stream ends the connection through these (found by ADL).
void beast_close_socket(TlsClient& stream);
void teardown(boost::beast::role_type role, TlsClient& stream, boost::system::error_code& ec);

template <class Handler>
void async_teardown(boost::beast::role_type role, TlsClient& stream, Handler&& handler) {
  boost::system::error_code ec;
  teardown(role, stream, ec);
  boost::asio::post(stream.get_executor(),
                    boost::beast::bind_front_handler(std::forward<Handler>(handler), ec));
}

}  // namespace cgw::bench
