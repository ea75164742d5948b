// Test support: the consoles behind the tunnel. A loopback TCP server and a UNIX
// socket server that each send "RFB 003.008\n" first and then echo everything;
// a TCP listener that never answers (an sshd that hangs); a console that sends
// its greeting and then never reads; one that closes after its greeting; and
// one that sends without end, counting
// what the network took from it. They run on an
// io_context of their own, on a thread of their own, until destruction.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace cgw::tunnel::test {

inline constexpr char greeting[] = "RFB 003.008\n";

class EchoBackends {
 public:
  explicit EchoBackends(std::string unix_path);
  ~EchoBackends();
  EchoBackends(const EchoBackends&) = delete;
  EchoBackends& operator=(const EchoBackends&) = delete;

  std::uint16_t tcp_port() const { return tcp_port_; }
  const std::string& unix_path() const { return unix_path_; }
  // Accepts TCP connections (the kernel's backlog does) and never sends a byte.
  std::uint16_t silent_port() const { return silent_port_; }
  // Sends the greeting, then neither reads nor writes.
  std::uint16_t deaf_port() const { return deaf_port_; }
  // Sends the greeting and closes the connection (a VM that stops).
  std::uint16_t closing_port() const { return closing_port_; }
  // Sends the greeting, then data for as long as the connection takes it.
  std::uint16_t flood_port() const { return flood_port_; }
  std::uint64_t flood_sent() const { return flood_sent_.load(); }

 private:
  boost::asio::io_context context_;
  boost::asio::ip::tcp::acceptor tcp_acceptor_;
  boost::asio::local::stream_protocol::acceptor unix_acceptor_;
  boost::asio::ip::tcp::acceptor silent_acceptor_;
  boost::asio::ip::tcp::acceptor deaf_acceptor_;
  boost::asio::ip::tcp::acceptor flood_acceptor_;
  boost::asio::ip::tcp::acceptor closing_acceptor_;
  std::string unix_path_;
  std::uint16_t tcp_port_ = 0;
  std::uint16_t silent_port_ = 0;
  std::uint16_t deaf_port_ = 0;
  std::uint16_t flood_port_ = 0;
  std::uint16_t closing_port_ = 0;
  std::atomic<std::uint64_t> flood_sent_{0};
  std::thread thread_;
};

}  // namespace cgw::tunnel::test
