#include "websocket/tls_socket.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/err.h>

#include <sys/socket.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace cgw::websocket {

namespace net = boost::asio;
using stream::error_code;
using stream::would_block;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// The largest TLS record's plaintext.
constexpr std::size_t record_size = 16 * 1024;
// OpenSSL's read-ahead buffer (only while bytes wait in it: the context has
// SSL_MODE_RELEASE_BUFFERS): four full records.
constexpr std::size_t read_buffer_size = 4 * (record_size + 256);

// What OpenSSL's BIOs read from and write to: the socket, the bytes read before
// TLS was known to be spoken, and the encrypted output waiting to be sent.
struct Io {
  int fd = -1;
  std::string initial;
  std::size_t initial_used = 0;
  std::vector<char> out;
  std::size_t sent = 0;  // of `out`
  bool eof = false;      // the peer's FIN was read
};

int io_read(BIO* bio, char* data, int size) {
  auto* io = static_cast<Io*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (io->initial_used < io->initial.size()) {
    const std::size_t n =
        std::min(static_cast<std::size_t>(size), io->initial.size() - io->initial_used);
    std::memcpy(data, io->initial.data() + io->initial_used, n);
    io->initial_used += n;
    if (io->initial_used == io->initial.size()) std::string().swap(io->initial);
    return static_cast<int>(n);
  }
  const ssize_t n = ::recv(io->fd, data, static_cast<std::size_t>(size), 0);
  if (n > 0) return static_cast<int>(n);
  if (n == 0) {
    io->eof = true;
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(bio);
  return -1;
}

int io_write(BIO* bio, const char* data, int size) {
  auto* io = static_cast<Io*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  io->out.insert(io->out.end(), data, data + size);
  return size;
}

long io_ctrl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  // OpenSSL flushes after each handshake flight; sending is ours to do.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int io_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* io_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "console-gw socket");
    BIO_meth_set_read(m, io_read);
    BIO_meth_set_write(m, io_write);
    BIO_meth_set_ctrl(m, io_ctrl);
    BIO_meth_set_create(m, io_create);
    return m;
  }();
  return method;
}

struct SslFree {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

}  // namespace

struct TlsSocket::State {
  State(tcp::socket s, SSL_CTX* context, std::string_view initial) : socket(std::move(s)) {
    error_code ignored;
    socket.non_blocking(true, ignored);
    io.fd = socket.native_handle();
    io.initial.assign(initial);
    ssl.reset(SSL_new(context));
    if (!ssl) return;
    // Several records per recv when the browser sends in bulk.
    SSL_set_read_ahead(ssl.get(), 1);
    SSL_set_default_read_buffer_len(ssl.get(), read_buffer_size);
    BIO* bio = BIO_new(io_method());
    if (!bio) {
      ssl.reset();
      return;
    }
    BIO_set_data(bio, &io);
    SSL_set_bio(ssl.get(), bio, bio);  // one BIO both ways: the SSL takes its one reference
    SSL_set_accept_state(ssl.get());
  }

  ~State() { close(); }

  // Sends what waits encrypted; would_block when the socket took less.
  error_code send_pending() {
    while (io.sent < io.out.size()) {
      error_code ec;
      const std::size_t n =
          socket.write_some(net::buffer(io.out.data() + io.sent, io.out.size() - io.sent), ec);
      io.sent += n;
      if (ec) return ec;
    }
    io.sent = 0;
    // Keep no output buffer while quiet: a large one is given back once sent.
    if (io.out.capacity() > 4 * 1024) {
      std::vector<char>().swap(io.out);
    } else {
      io.out.clear();
    }
    return {};
  }

  // A close_notify (the peer's TLS may wait for it to end cleanly), sent as far
  // as the socket takes it now. Returns whether everything went out.
  bool close_notify() {
    if (!ssl || !socket.is_open() || !SSL_is_init_finished(ssl.get())) return false;
    ERR_clear_error();
    SSL_shutdown(ssl.get());
    return !send_pending();
  }

  // close_notify(), what the peer sent dropped (closing with unread bytes would
  // reset the connection, and a reset can destroy what we sent last), then the
  // socket closed. Best effort, without blocking.
  void close() {
    if (!socket.is_open()) return;
    if (limit) limit->cancel();
    const bool established = ssl && SSL_is_init_finished(ssl.get());
    close_notify();
    if (established) {
      std::array<char, 4096> scratch;
      for (int i = 0; i < 64 && ::recv(io.fd, scratch.data(), scratch.size(), 0) > 0; ++i) {
      }
    }
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  tcp::socket socket;
  Io io;
  std::unique_ptr<SSL, SslFree> ssl;
  std::unique_ptr<net::steady_timer> limit;
  bool timed_out = false;
};

namespace {

// What an OpenSSL call's failure means, as Asio's ssl::stream reports it.
error_code ssl_failure(SSL* ssl, int result, const Io& io) {
  const int kind = SSL_get_error(ssl, result);
  switch (kind) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return net::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return net::error::eof;
    case SSL_ERROR_SYSCALL: {
      if (const unsigned long e = ERR_get_error())
        return {static_cast<int>(e), net::error::get_ssl_category()};
      if (io.eof) return net::ssl::error::stream_truncated;
      return {errno ? errno : EIO, boost::system::system_category()};
    }
    default: {
      const unsigned long e = ERR_get_error();
      if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return net::ssl::error::stream_truncated;
      return {static_cast<int>(e), net::error::get_ssl_category()};
    }
  }
}

}  // namespace

TlsSocket::TlsSocket(tcp::socket socket, SSL_CTX* context, std::string_view initial)
    : s_(std::make_unique<State>(std::move(socket), context, initial)) {}
TlsSocket::TlsSocket(TlsSocket&&) noexcept = default;
TlsSocket& TlsSocket::operator=(TlsSocket&&) noexcept = default;
TlsSocket::~TlsSocket() = default;

TlsSocket::executor_type TlsSocket::get_executor() { return s_->socket.get_executor(); }
TlsSocket::tcp::socket& TlsSocket::socket() { return s_->socket; }

error_code TlsSocket::failure(error_code ec) const {
  return s_->timed_out ? boost::beast::error::timeout : ec;
}

void TlsSocket::expires_after(std::chrono::steady_clock::duration limit) {
  if (!s_->limit) s_->limit = std::make_unique<net::steady_timer>(s_->socket.get_executor());
  s_->limit->expires_after(limit);
  s_->limit->async_wait([state = s_.get()](const error_code& ec) {
    if (ec) return;  // cancelled: the state may be gone, so touch nothing
    state->timed_out = true;
    error_code ignored;
    state->socket.close(ignored);
  });
}

void TlsSocket::expires_never() { s_->limit.reset(); }

net::awaitable<error_code> TlsSocket::handshake() {
  if (!s_->ssl) co_return net::error::no_memory;
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(s_->ssl.get());
    if (const error_code sent = co_await flush()) co_return failure(sent);
    if (r == 1) co_return error_code{};
    const error_code ec = ssl_failure(s_->ssl.get(), r, s_->io);
    if (!would_block(ec)) co_return failure(ec);
    if (const error_code waited = co_await wait_read()) co_return failure(waited);
  }
}

std::size_t TlsSocket::read_some(net::mutable_buffer buf, error_code& ec, bool& drained) {
  ec = {};
  drained = false;
  auto* data = static_cast<char*>(buf.data());
  std::size_t total = 0;
  ERR_clear_error();
  while (total < buf.size()) {
    std::size_t n = 0;
    const int r = SSL_read_ex(s_->ssl.get(), data + total, buf.size() - total, &n);
    if (r == 1) {
      total += n;
      continue;
    }
    const error_code why = ssl_failure(s_->ssl.get(), r, s_->io);
    if (would_block(why)) drained = true;
    if (total == 0) ec = why;
    break;
  }
  // Reading may have produced records to send (a key update's answer).
  if (!s_->io.out.empty()) {
    const error_code sent = send_pending();
    if (sent && !would_block(sent) && !ec && total == 0) ec = sent;
  }
  return total;
}

bool TlsSocket::input_buffered() const {
  // Decrypted bytes only: SSL_has_pending() also counts part of a record, which
  // cannot be read until the rest arrives; waiting on it would spin.
  return SSL_pending(s_->ssl.get()) > 0 || s_->io.initial_used < s_->io.initial.size();
}

net::awaitable<error_code> TlsSocket::wait_read() {
  auto [ec] = co_await s_->socket.async_wait(tcp::socket::wait_read, use_tuple);
  co_return failure(ec);
}

std::size_t TlsSocket::write_some(std::span<const net::const_buffer> buffers, error_code& ec) {
  ec = {};
  SSL* ssl = s_->ssl.get();
  std::size_t total = 0;
  for (const net::const_buffer& b : buffers) total += b.size();
  if (total == 0 && s_->io.out.empty()) return 0;
  s_->io.out.reserve(s_->io.out.size() + total + (total / record_size + buffers.size()) * 64);
  ERR_clear_error();
  const auto write = [&](const void* data, std::size_t size) {
    std::size_t written = 0;
    const int r = SSL_write_ex(ssl, data, size, &written);
    if (r != 1) ec = ssl_failure(ssl, r, s_->io);
    return r == 1;
  };
  if (total <= record_size) {
    // A WebSocket header and its small payload (or a control frame) in one record.
    thread_local std::array<char, record_size> stage;
    std::size_t staged = 0;
    for (const net::const_buffer& b : buffers) {
      if (b.size() == 0) continue;  // an empty buffer's data() may be null
      std::memcpy(stage.data() + staged, b.data(), b.size());
      staged += b.size();
    }
    if (staged != 0 && !write(stage.data(), staged)) return 0;
  } else {
    for (const net::const_buffer& b : buffers) {
      if (b.size() != 0 && !write(b.data(), b.size())) return 0;
    }
  }
  ec = send_pending();
  if (would_block(ec)) ec = {};
  return total;
}

error_code TlsSocket::send_pending() { return s_->send_pending(); }

bool TlsSocket::output_pending() const { return !s_->io.out.empty(); }

net::awaitable<error_code> TlsSocket::flush() {
  for (;;) {
    const error_code ec = send_pending();
    if (!ec) co_return ec;
    if (!would_block(ec)) co_return failure(ec);
    auto [waited] = co_await s_->socket.async_wait(tcp::socket::wait_write, use_tuple);
    if (waited) co_return failure(waited);
  }
}

net::awaitable<error_code> TlsSocket::write_all(std::span<const net::const_buffer> buffers) {
  error_code ec;
  write_some(buffers, ec);
  if (ec) co_return failure(ec);
  co_return co_await flush();
}

void TlsSocket::shutdown_send() {
  // A FIN after unsent records would cut them off.
  if (!s_->close_notify()) return;
  error_code ignored;
  s_->socket.shutdown(tcp::socket::shutdown_send, ignored);
}

void TlsSocket::close() { s_->close(); }

bool TlsSocket::is_open() const { return s_ && s_->socket.is_open(); }

}  // namespace cgw::websocket
