#include "console_tls/tls_client_stream.hpp"

#include "console_tls/client_context.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace cgw::console_tls {

namespace net = boost::asio;
using stream::error_code;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
// The most read from the inner stream at once: four full records and more.
constexpr std::size_t input_size = 64 * 1024;
// The largest TLS record's plaintext, and more than any record's overhead.
constexpr std::size_t record_size = 16 * 1024;
constexpr std::size_t record_overhead = 64;
// An output buffer larger than this is given back once sent, so that an idle
// stream holds none.
constexpr std::size_t keep_output = 4 * 1024;

struct SslFree {
  void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

}  // namespace

// What OpenSSL's BIO reads from and writes to, and what the stream's
// operations share. Everything runs on the session's thread.
struct TlsClientStreamState {
  std::unique_ptr<stream::ByteStream> inner;
  std::shared_ptr<const ClientContext> context;
  std::string server_name;
  std::unique_ptr<SSL, SslFree> ssl;

  // Ciphertext read from the inner stream that OpenSSL has not taken yet.
  // Without read-ahead OpenSSL takes one record at a time, so what is left
  // here is visible to wait_readable().
  std::unique_ptr<char[]> in;
  std::size_t in_begin = 0;
  std::size_t in_end = 0;
  bool in_eof = false;  // the inner stream ended: the BIO reports end of input

  // Records made and not yet handed to the inner stream, and those of the
  // inner write in flight (two buffers, so that records made meanwhile — by a
  // read — queue behind it without touching what is being written).
  std::vector<char> out;
  std::vector<char> sending;
  bool flushing = false;                       // an inner write is in flight
  error_code write_error;                      // the inner stream's write failed: it stays failed
  error_code read_error;                       // a failure seen after data was returned: told next
  std::unique_ptr<net::steady_timer> flushed;  // woken when an inner write ends

  bool established = false;
  bool closed = false;
  bool aborted = false;

  std::size_t buffered_input() const { return in_end - in_begin; }

  // One read from the inner stream into `in` (which OpenSSL has emptied: it
  // asks for more only then), after waiting for readability when the inner
  // stream can wait (a socket's read does not block: it would say EAGAIN).
  // Allocated here and given back by release_input() once OpenSSL took it
  // all, so an idle stream holds no input buffer.
  net::awaitable<error_code> fill() {
    if (in_eof) co_return error_code{};
    if (inner->can_wait_readable()) {
      if (const error_code waited = co_await inner->wait_readable()) co_return waited;
    }
    if (!in) in = std::make_unique_for_overwrite<char[]>(input_size);
    in_begin = 0;
    in_end = 0;
    auto [ec, n] = co_await inner->read_some(net::buffer(in.get(), input_size));
    if (aborted) co_return net::error::operation_aborted;
    if (ec == net::error::eof) {
      // OpenSSL then tells a close_notify already read (eof) from a cut (truncated).
      in_eof = true;
      co_return error_code{};
    }
    in_end = ec ? 0 : n;
    co_return ec;
  }

  void release_input() {
    if (in && in_begin == in_end) {
      in.reset();
      in_begin = in_end = 0;
    }
  }

  // Waits until no inner write is in flight (another operation's). The timer
  // never expires and is never re-armed (re-arming would cancel another
  // waiter's wait): cancel() wakes every waiter, each checks again.
  net::awaitable<void> wait_flushed() {
    while (flushing && !aborted) {
      if (!flushed) {
        flushed = std::make_unique<net::steady_timer>(co_await net::this_coro::executor,
                                                      net::steady_timer::time_point::max());
      }
      co_await flushed->async_wait(use_tuple);
    }
  }

  void wake_waiters() {
    if (flushed) flushed->cancel();
  }

  // Hands every queued record to the inner stream, including those queued by
  // another operation while this one's write was in flight.
  net::awaitable<error_code> flush() {
    co_await wait_flushed();
    while (!write_error && !aborted && !out.empty()) {
      sending.swap(out);
      flushing = true;
      const error_code ec = co_await inner->write(net::buffer(sending));
      flushing = false;
      if (sending.capacity() > keep_output) {
        std::vector<char>().swap(sending);
      } else {
        sending.clear();
      }
      if (ec) write_error = ec;
    }
    if (out.capacity() > keep_output && out.empty()) std::vector<char>().swap(out);
    wake_waiters();
    if (aborted) co_return net::error::operation_aborted;
    co_return write_error;
  }

  // What an OpenSSL call's failure means, as Asio's ssl::stream reports it.
  error_code failure(int result) const {
    switch (SSL_get_error(ssl.get(), result)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return net::error::would_block;
      case SSL_ERROR_ZERO_RETURN:
        return net::error::eof;
      case SSL_ERROR_SYSCALL:
        if (const unsigned long e = ERR_peek_last_error())
          return {static_cast<int>(e), net::error::get_ssl_category()};
        if (in_eof) return net::ssl::error::stream_truncated;
        return net::ssl::error::unspecified_system_error;
      default: {
        const unsigned long e = ERR_peek_last_error();
        if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
          return net::ssl::error::stream_truncated;
        // After a fatal error OpenSSL fails every call without queueing a
        // reason again; an error code of 0 would read as success.
        if (e == 0) return net::ssl::error::unspecified_system_error;
        return {static_cast<int>(e), net::error::get_ssl_category()};
      }
    }
  }
};

namespace {

using State = TlsClientStreamState;

int bio_read(BIO* bio, char* data, int size) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (s->buffered_input() != 0) {
    const std::size_t n = std::min(static_cast<std::size_t>(size), s->buffered_input());
    std::memcpy(data, s->in.get() + s->in_begin, n);
    s->in_begin += n;
    return static_cast<int>(n);
  }
  if (s->in_eof) return 0;
  BIO_set_retry_read(bio);
  return -1;
}

int bio_write(BIO* bio, const char* data, int size) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  s->out.insert(s->out.end(), data, data + size);
  return size;
}

long bio_ctrl(BIO* bio, int command, long /*number*/, void* /*pointer*/) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  switch (command) {
    case BIO_CTRL_FLUSH:  // after each handshake flight; sending is ours to do
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(s->buffered_input());
    case BIO_CTRL_WPENDING:
      return static_cast<long>(s->out.size());
    case BIO_CTRL_EOF:
      return s->in_eof && s->buffered_input() == 0 ? 1 : 0;
    default:
      return 0;
  }
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "console-gw byte stream");
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    return m;
  }();
  return method;
}

// "[::1]" as written in a URL or a listen address is the address ::1.
std::string without_brackets(const std::string& name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    return name.substr(1, name.size() - 2);
  }
  return name;
}

bool is_ip_literal(const std::string& name) {
  unsigned char address[16];
  return inet_pton(AF_INET, name.c_str(), address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), address) == 1;
}

std::string openssl_reason(unsigned long e) {
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  return reason ? reason : "";
}

}  // namespace

TlsClientStream::TlsClientStream(std::unique_ptr<stream::ByteStream> inner,
                                 std::shared_ptr<const ClientContext> context,
                                 std::string server_name)
    : s_(std::make_unique<TlsClientStreamState>()) {
  if (!inner || !context) throw std::invalid_argument("console TLS: no stream or no context");
  if (server_name.empty()) throw std::invalid_argument("console TLS: no name to check");
  s_->inner = std::move(inner);
  s_->context = std::move(context);
  s_->server_name = std::move(server_name);

  ERR_clear_error();
  s_->ssl.reset(SSL_new(s_->context->native_handle()));
  BIO* bio = s_->ssl ? BIO_new(bio_method()) : nullptr;
  if (!bio) throw std::runtime_error("console TLS: out of memory");
  BIO_set_data(bio, s_.get());
  SSL* ssl = s_->ssl.get();
  SSL_set_bio(ssl, bio, bio);
  SSL_set_connect_state(ssl);

  const std::string name = without_brackets(s_->server_name);
  bool named = false;
  if (is_ip_literal(name)) {
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named = SSL_set1_host(ssl, name.c_str()) == 1 &&
            SSL_set_tlsext_host_name(ssl, const_cast<char*>(name.c_str())) == 1;
  }
  ERR_clear_error();
  if (!named) throw std::invalid_argument("console TLS: cannot check the name " + s_->server_name);
}

TlsClientStream::~TlsClientStream() = default;

net::awaitable<HandshakeResult> TlsClientStream::handshake() {
  TlsClientStreamState& s = *s_;
  SSL* ssl = s.ssl.get();
  HandshakeResult result;
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl);
    const error_code why = r == 1 ? error_code{} : s.failure(r);
    const unsigned long detail = ERR_peek_last_error();
    // Our next flight, or the alert that says why we give up.
    const error_code sent = co_await s.flush();
    if (r == 1 && !sent) {
      s.established = true;
      s.release_input();
      co_return result;
    }
    if (!why || stream::would_block(why)) {
      if (sent) {
        result.error = sent;
        result.reason = "TLS handshake with the console failed (" + sent.message() + ")";
        co_return result;
      }
      // OpenSSL wants more of the console's flight. At its end the BIO reports
      // end of input and OpenSSL the failure, below.
      if (const error_code read = co_await s.fill()) {
        result.error = read;
        result.reason = "TLS handshake with the console failed (" + read.message() + ")";
        co_return result;
      }
      continue;
    }
    result.error = why;
    const long verified = SSL_get_verify_result(ssl);
    if (verified != X509_V_OK) {
      result.untrusted = true;
      if (verified == X509_V_ERR_HOSTNAME_MISMATCH || verified == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        result.reason = "console certificate does not match " + s.server_name;
      } else {
        result.reason = std::string("console certificate not trusted (") +
                        X509_verify_cert_error_string(verified) + ")";
      }
    } else {
      std::string text = openssl_reason(detail);
      if (text.empty()) text = why.message();
      result.reason = "TLS handshake with the console failed (" + text + ")";
    }
    ERR_clear_error();
    co_return result;
  }
}

net::awaitable<std::tuple<error_code, std::size_t>> TlsClientStream::read_some(
    net::mutable_buffer buf) {
  TlsClientStreamState& s = *s_;
  if (s.aborted) co_return std::tuple{error_code(net::error::operation_aborted), std::size_t{0}};
  if (!s.established) co_return std::tuple{error_code(net::error::not_connected), std::size_t{0}};
  if (s.read_error) co_return std::tuple{s.read_error, std::size_t{0}};
  if (buf.size() == 0) co_return std::tuple{error_code{}, std::size_t{0}};

  auto* data = static_cast<char*>(buf.data());
  bool read_inner = false;
  for (;;) {
    std::size_t total = 0;
    error_code why;
    ERR_clear_error();
    while (total < buf.size()) {
      std::size_t n = 0;
      const int r = SSL_read_ex(s.ssl.get(), data + total, buf.size() - total, &n);
      if (r != 1) {
        why = s.failure(r);
        break;
      }
      total += n;
    }
    ERR_clear_error();
    // Reading may have made records to send (an alert, a key update's answer).
    // Sent now unless a write is in flight: that write then sends them after
    // its own, and this read does not wait for it.
    if (!s.out.empty() && !s.flushing) co_await s.flush();

    if (why && !stream::would_block(why)) {
      if (total != 0) {
        s.read_error = why;  // the data first, the failure next time
      } else {
        co_return std::tuple{why, std::size_t{0}};
      }
    }
    if (total != 0 || read_inner) {
      s.release_input();
      co_return std::tuple{error_code{}, total};
    }
    if (const error_code ec = co_await s.fill()) co_return std::tuple{ec, std::size_t{0}};
    read_inner = true;
  }
}

bool TlsClientStream::can_wait_readable() const noexcept { return s_->inner->can_wait_readable(); }

net::awaitable<error_code> TlsClientStream::wait_readable() {
  TlsClientStreamState& s = *s_;
  if (s.aborted) co_return net::error::operation_aborted;
  // Decrypted bytes, or records read and not yet decrypted, are readable now.
  // Part of a record inside OpenSSL is not (SSL_has_pending() would count it
  // and make the caller spin): the rest must come from the inner stream.
  if (SSL_pending(s.ssl.get()) > 0 || s.buffered_input() != 0 || s.in_eof || s.read_error) {
    co_return error_code{};
  }
  co_return co_await s.inner->wait_readable();
}

net::awaitable<error_code> TlsClientStream::write(net::const_buffer buf) {
  TlsClientStreamState& s = *s_;
  if (s.aborted) co_return net::error::operation_aborted;
  if (!s.established) co_return net::error::not_connected;
  if (s.write_error) co_return s.write_error;
  if (buf.size() != 0) {
    // All records of this write in one buffer, for one inner write.
    s.out.reserve(s.out.size() + buf.size() + (buf.size() / record_size + 1) * record_overhead);
    ERR_clear_error();
    std::size_t written = 0;
    const int r = SSL_write_ex(s.ssl.get(), buf.data(), buf.size(), &written);
    if (r != 1) {
      const error_code why = s.failure(r);
      ERR_clear_error();
      co_return why;
    }
  }
  co_return co_await s.flush();
}

net::awaitable<void> TlsClientStream::close(stream::EndReason why) {
  TlsClientStreamState& s = *s_;
  if (s.closed || s.aborted) co_return;
  s.closed = true;
  if (s.established && !s.write_error) {
    // The console may wait for close_notify to end its side cleanly.
    ERR_clear_error();
    SSL_shutdown(s.ssl.get());
    ERR_clear_error();
    co_await s.flush();
  }
  // Passed as a named copy: GCC 12 mis-destroys coroutine arguments moved
  // from a parameter.
  const stream::EndReason reason = why;
  co_await s.inner->close(reason);
}

void TlsClientStream::abort() noexcept {
  s_->aborted = true;
  s_->inner->abort();
  s_->wake_waiters();
}

std::optional<stream::EndReason> TlsClientStream::ending() const { return s_->inner->ending(); }

}  // namespace cgw::console_tls
