// Consoles of our own behind libvirt's test driver (test:// URIs, in-process, no
// libvirtd): an EchoConsole that echoes what it gets, and a node XML whose
// domains point their VNC graphics at given loopback ports.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cgw::test {

// Echoes what it gets, and counts connections that the far side ended.
class EchoConsole {
 public:
  EchoConsole();
  ~EchoConsole();
  EchoConsole(const EchoConsole&) = delete;
  EchoConsole& operator=(const EchoConsole&) = delete;

  std::uint16_t port() const;
  int ended();
  bool wait_for_ended(int count, std::chrono::milliseconds limit);

 private:
  void serve();
  void echo(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::thread> sessions_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  int ended_ = 0;
};

// The UUIDs of test_driver_node()'s two domains.
inline constexpr const char* kEchoUuid = "0e4b1c8a-7a52-4c55-9d1e-0000000000e1";
inline constexpr const char* kClosedUuid = "0e4b1c8a-7a52-4c55-9d1e-0000000000c1";

// A node for libvirt's test driver (test://<file>): domain "echo" (kEchoUuid)
// with its VNC console on 127.0.0.1:echo_port, domain "closed" (kClosedUuid) on
// 127.0.0.1:dead_port.
std::string test_driver_node(std::uint16_t echo_port, std::uint16_t dead_port);

}  // namespace cgw::test
