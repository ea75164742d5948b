#include "tests/support/echo_console.hpp"

#include <boost/asio/write.hpp>

#include <sys/socket.h>

namespace cgw::test {

namespace net = boost::asio;
using tcp = net::ip::tcp;

EchoConsole::EchoConsole() : acceptor_(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
  thread_ = std::thread([this] { serve(); });
}

EchoConsole::~EchoConsole() {
  stopping_ = true;
  boost::system::error_code ec;
  ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
  acceptor_.close(ec);
  thread_.join();
  for (auto& t : sessions_) t.join();
}

std::uint16_t EchoConsole::port() const { return acceptor_.local_endpoint().port(); }

int EchoConsole::ended() {
  std::lock_guard lock(mutex_);
  return ended_;
}

bool EchoConsole::wait_for_ended(int count, std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, limit, [&] { return ended_ >= count; });
}

void EchoConsole::serve() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket(ioc_);
    acceptor_.accept(socket, ec);
    if (ec) return;
    sessions_.emplace_back([this, s = std::move(socket)]() mutable { echo(std::move(s)); });
  }
}

void EchoConsole::echo(tcp::socket socket) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(net::buffer(buf), ec);
    if (ec) break;
    net::write(socket, net::buffer(buf.data(), n), ec);
    if (ec) break;
  }
  std::lock_guard lock(mutex_);
  ++ended_;
  cv_.notify_all();
}

std::string test_driver_node(std::uint16_t echo_port, std::uint16_t dead_port) {
  auto domain = [](const char* name, const char* uuid, std::uint16_t port) {
    return std::string("<domain type='test'><name>") + name + "</name><uuid>" + uuid +
           "</uuid><memory>65536</memory><os><type>hvm</type></os><devices>"
           "<graphics type='vnc' port='" +
           std::to_string(port) +
           "' listen='127.0.0.1'/>"
           "</devices></domain>";
  };
  return "<node>" + domain("echo", kEchoUuid, echo_port) +
         domain("closed", kClosedUuid, dead_port) + "</node>";
}

}  // namespace cgw::test
