#include "bench/tls_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/err.h>

#include <cerrno>
#include <cstring>

namespace cgw::bench {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

constexpr std::size_t record_size = 16 * 1024;  // the largest record's plaintext
// OpenSSL's read-ahead buffer: four full records per recv at most.
constexpr std::size_t read_buffer_size = 4 * (record_size + 256);

}  // namespace

// The records OpenSSL wrote, waiting to be sent; the plaintext of a small piece
// waiting for what follows it.
struct TlsClient::Output {
  std::vector<char> bytes;
  std::size_t sent = 0;
  std::array<char, record_size> stage;
};

namespace {

int output_write(BIO* bio, const char* data, int size) {
  auto* out = static_cast<std::vector<char>*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  out->insert(out->end(), data, data + size);
  return size;
}

long output_ctrl(BIO* /*bio*/, int command, long /*number*/, void* /*pointer*/) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // sending is ours to do
}

int output_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* output_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cgw-bench output");
    BIO_meth_set_write(m, output_write);
    BIO_meth_set_ctrl(m, output_ctrl);
    BIO_meth_set_create(m, output_create);
    return m;
  }();
  return method;
}

// What an OpenSSL call that did not succeed means for the caller.
error_code ssl_error(SSL* ssl, int result) {
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return net::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return net::error::eof;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        return errno != 0 ? error_code(errno, boost::system::system_category())
                          : error_code(net::ssl::error::stream_truncated);
      }
      [[fallthrough]];
    default: {
      const unsigned long e = ERR_get_error();
      ERR_clear_error();
      return error_code(static_cast<int>(e), net::error::get_ssl_category());
    }
  }
}

}  // namespace

TlsClient::TlsClient(tcp::socket socket, SSL_CTX* context, const std::string& server_name)
    : socket_(std::move(socket)), out_(std::make_unique<Output>()), ssl_(SSL_new(context)) {
  BIO* in = ssl_ ? BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE) : nullptr;
  BIO* out = in ? BIO_new(output_method()) : nullptr;
  if (!out) {
    BIO_free(in);
    throw boost::system::system_error(net::error::no_memory, "TLS client");
  }
  BIO_set_data(out, &out_->bytes);
  SSL_set_bio(ssl_.get(), in, out);
  socket_.non_blocking(true);
  SSL_set_connect_state(ssl_.get());
  SSL_set_read_ahead(ssl_.get(), 1);
  SSL_set_default_read_buffer_len(ssl_.get(), read_buffer_size);
  error_code not_ip;
  net::ip::make_address(server_name, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(ssl_.get(), server_name.c_str());
}

TlsClient::TlsClient(TlsClient&&) noexcept = default;
TlsClient& TlsClient::operator=(TlsClient&&) noexcept = default;
TlsClient::~TlsClient() = default;

net::awaitable<void> TlsClient::handshake() {
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_.get());
    const int reason = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), r);
    if (reason != SSL_ERROR_NONE && reason != SSL_ERROR_WANT_READ) {
      throw boost::system::system_error(ssl_error(ssl_.get(), r), "TLS handshake");
    }
    for (error_code ec; (ec = send_output());) {
      if (ec != net::error::would_block) throw boost::system::system_error(ec, "TLS handshake");
      co_await socket_.async_wait(tcp::socket::wait_write, net::use_awaitable);
    }
    if (reason == SSL_ERROR_NONE) co_return;
    co_await socket_.async_wait(tcp::socket::wait_read, net::use_awaitable);
  }
}

std::size_t TlsClient::read_now(net::mutable_buffer buffer, error_code& ec) {
  auto* data = static_cast<char*>(buffer.data());
  std::size_t got = 0;
  // Records already read ahead are taken at once; the socket is asked only
  // while nothing was got, so a read costs at most one recv.
  while (got < buffer.size() && (got == 0 || SSL_has_pending(ssl_.get()))) {
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_read_ex(ssl_.get(), data + got, buffer.size() - got, &n);
    if (r != 1) {
      const error_code why = ssl_error(ssl_.get(), r);
      if (got == 0) ec = why;
      break;
    }
    got += n;
  }
  return got;
}

std::size_t TlsClient::encrypt(std::span<const net::const_buffer> pieces, error_code& ec) {
  auto seal = [&](const void* data, std::size_t size) {
    std::size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_.get(), data, size, &n) != 1) ec = ssl_error(ssl_.get(), 0);
    return !ec;
  };
  std::size_t total = 0;
  std::size_t staged = 0;
  for (const net::const_buffer piece : pieces) {
    const auto* p = static_cast<const char*>(piece.data());
    std::size_t left = piece.size();
    if (staged != 0 || left < record_size) {
      const std::size_t take = std::min(left, record_size - staged);
      std::memcpy(out_->stage.data() + staged, p, take);
      staged += take;
      p += take;
      left -= take;
      if (staged == record_size) {
        if (!seal(out_->stage.data(), staged)) return 0;
        staged = 0;
      }
    }
    if (left != 0 && !seal(p, left)) return 0;
    total += piece.size();
  }
  if (staged != 0 && !seal(out_->stage.data(), staged)) return 0;
  return total;
}

error_code TlsClient::send_output() {
  Output& out = *out_;
  while (out.sent < out.bytes.size()) {
    error_code ec;
    out.sent += socket_.write_some(
        net::buffer(out.bytes.data() + out.sent, out.bytes.size() - out.sent), ec);
    if (ec) return ec;
  }
  out.bytes.clear();
  out.sent = 0;
  return {};
}

void TlsClient::close(error_code& ec) {
  if (!socket_.is_open()) return;
  ERR_clear_error();
  if (SSL_shutdown(ssl_.get()) >= 0) send_output();  // best effort: the close follows
  socket_.close(ec);
}

void beast_close_socket(TlsClient& stream) {
  error_code ignored;
  stream.close(ignored);
}

void teardown(boost::beast::role_type /*role*/, TlsClient& stream, error_code& ec) {
  stream.close(ec);
}

}  // namespace cgw::bench
