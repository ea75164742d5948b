// A blocking WebSocket and HTTP client for tests, with a time limit on every
// read and write (SO_RCVTIMEO/SO_SNDTIMEO), so a test fails instead of hanging.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::test {

struct WsOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string target = "/websockify";
  std::string origin;       // sent when not empty
  std::string subprotocol;  // offered when not empty
  std::string cookie;       // sent when not empty
  bool tls = false;
  std::string ca_file;  // with tls: trust this certificate (else no verification)
  std::chrono::milliseconds timeout{15000};
};

struct CloseFrame {
  int code = 0;  // 0: the connection ended without a close frame
  std::string reason;
};

class WsClient {
 public:
  // Connects and completes the handshake; throws std::exception on failure.
  static std::unique_ptr<WsClient> connect(const WsOptions& options);
  virtual ~WsClient() = default;

  virtual std::string negotiated_subprotocol() const = 0;
  // Reads messages until `n` bytes arrived; throws if the stream ends first.
  virtual std::string read_exactly(std::size_t n) = 0;
  // Reads whatever the next message holds; nullopt when the server closed.
  virtual std::optional<std::string> read_message() = 0;
  virtual void write(std::string_view bytes) = 0;
  // Reads (discarding data) until the server's close frame.
  virtual CloseFrame read_until_close() = 0;
  virtual void close(int code = 1000) = 0;
  // Pings the server sent that this client has seen (answered automatically);
  // may be called from another thread while this one reads.
  virtual int pings_seen() const = 0;
  // A text message (browsers' consoles send binary ones).
  virtual void write_text(std::string_view text) = 0;
  // Pings the server; its pongs arrive while reading (pongs_seen()).
  virtual void ping(std::string_view payload) = 0;
  virtual int pongs_seen() const = 0;
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

HttpResponse http_get(std::uint16_t port, const std::string& target, bool tls = false,
                      const std::string& host_header = "127.0.0.1");

// Reads raw bytes from a plain TCP socket (for checking what a console sends).
std::string tcp_read(std::uint16_t port, std::size_t n);

}  // namespace cgw::test
