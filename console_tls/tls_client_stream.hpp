// TlsClientStream: TLS, as the client, over any other ByteStream — a TCP or
// UNIX socket, an SSH channel — for consoles that speak TLS (VNC VeNCrypt
// X.509 to QEMU after the RFB negotiation, SPICE's tls-port).
//
// Owns the inner stream and an OpenSSL connection made from a ClientContext.
// OpenSSL never touches a socket: its records go through memory (a BIO of our
// own), read from the inner stream's read_some and written with its write.
//
// Threading and the ByteStream rules: used on one session's thread; at most
// one read_some (or wait_readable) and one write in flight, handshake() alone
// before them. A read that makes TLS records of its own to send (an alert such
// as no_renegotiation; OpenSSL answers a TLS 1.3 key update with the next
// write instead) never waits for a write in flight: it leaves them queued, and
// that write sends them after its own records, in order. When no write is in
// flight, the read sends them itself, and a write() started meanwhile waits
// for that to finish.
//
// Endings: read_some() reports boost::asio::error::eof after the console's
// close_notify, and boost::asio::ssl::error::stream_truncated when the console's
// transport ended without one (as websocket::TlsSocket does; QEMU and many
// servers just close). close() sends close_notify and then closes the inner
// stream; abort() aborts the inner stream.
#pragma once

#include "stream/byte_stream.hpp"

#include <memory>
#include <optional>
#include <string>

namespace cgw::console_tls {

class ClientContext;
struct TlsClientStreamState;  // the implementation's, in the .cpp

struct HandshakeResult {
  stream::error_code error;
  bool untrusted = false;  // the console's certificate was refused (chain, validity, name)
  // Why, in a short sentence for the browser and the log (never key material):
  // "console certificate not trusted (unable to get local issuer certificate)",
  // "console certificate does not match 10.0.0.5",
  // "TLS handshake with the console failed (tlsv13 alert certificate required)".
  std::string reason;
};

class TlsClientStream final : public stream::ByteStream {
 public:
  // `server_name`: what the console's certificate must name. An IP literal
  // (10.0.0.5, ::1, [::1]) is matched against the certificate's IP addresses;
  // anything else is a DNS name, matched against its DNS names and sent as SNI.
  // Throws std::invalid_argument when it is empty or unusable.
  TlsClientStream(std::unique_ptr<stream::ByteStream> inner,
                  std::shared_ptr<const ClientContext> context, std::string server_name);
  ~TlsClientStream() override;
  TlsClientStream(const TlsClientStream&) = delete;
  TlsClientStream& operator=(const TlsClientStream&) = delete;

  // The client's handshake, once, before anything else. No time limit of its
  // own: the caller bounds it (abort() makes it fail at once).
  boost::asio::awaitable<HandshakeResult> handshake();

  // Decrypted bytes. May complete with 0 bytes and no error after an inner
  // read that brought only TLS records without data (TLS 1.3 session tickets,
  // part of a record); the caller waits again.
  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) override;

  // As the inner stream can: ready at once while decrypted bytes or undelivered
  // records are held here, else the inner stream's wait.
  bool can_wait_readable() const noexcept override;
  boost::asio::awaitable<stream::error_code> wait_readable() override;

  // Encrypts all of `buf` (records of 16 KiB) into one buffer and writes it to
  // the inner stream with one write.
  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buf) override;

  boost::asio::awaitable<void> close(stream::EndReason why) override;
  void abort() noexcept override;
  // The inner stream's, if a layer under TLS decided to end the session.
  std::optional<stream::EndReason> ending() const override;

 private:
  std::unique_ptr<TlsClientStreamState> s_;
};

}  // namespace cgw::console_tls
