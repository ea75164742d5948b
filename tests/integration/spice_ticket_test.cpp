// The gateway's SPICE ticket against a real QEMU with a SPICE password
// (libvirt's `passwd`), on the real libvirtd. The test is the browser, as
// spice-html5 is: a main-channel link message and a ticket of its own (any
// 128 bytes: it has no password); answer_ticket() sits between it (a socket
// pair) and QEMU's plain SPICE port (TCP), as the gateway will.
#include "spice/ticket.hpp"

#include "stream/socket_stream.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/socket_peer.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <regex>
#include <string>
#include <thread>

namespace cgw::spice {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using UnixSocket = net::local::stream_protocol::socket;
using namespace std::chrono_literals;

constexpr const char* kPassword = "s3cr3tGW";

std::string u32(std::uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::uint32_t le32(std::string_view bytes) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v |= std::uint32_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return v;
}

// spice-html5's main channel link: SpiceLinkHeader + SpiceLinkMess with
// AUTH_SELECTION | MINI_HEADER, and AGENT_CONNECTED_TOKENS for the channel.
std::string main_link_message() {
  std::string body = u32(0);  // connection_id
  body.push_back(1);          // channel_type: main
  body.push_back(0);          // channel_id
  body += u32(1) + u32(1) + u32(18) + u32((1u << 0) | (1u << 3)) + u32(1u << 2);
  return "REDQ" + u32(2) + u32(2) + u32(static_cast<std::uint32_t>(body.size())) + body;
}

// The browser's end of the socket pair (5 s limit per read).
class Browser : public test::SocketPeer {
 public:
  explicit Browser(int fd) : SocketPeer(fd, std::chrono::seconds(5)) {}
};

class SpiceTicketOnQemu : public ::testing::Test {
 protected:
  static test::TestDomain& locked() {
    static test::TestDomain d("cgw-it-spice-ticket-" + std::to_string(getpid()),
                              std::string("<graphics type='spice' autoport='yes' "
                                          "listen='127.0.0.1' passwd='") +
                                  kPassword + "'/><video><model type='cirrus'/></video>");
    return d;
  }

  // The SPICE port libvirt gave the domain.
  static unsigned short spice_port() {
    const std::string xml = locked().live_xml();
    std::smatch m;
    static const std::regex graphics("<graphics type='spice' port='([0-9]+)'");
    if (!std::regex_search(xml, m, graphics)) {
      ADD_FAILURE() << "no SPICE port in the live XML:\n" << xml;
      return 0;
    }
    return static_cast<unsigned short>(std::stoi(m[1]));
  }

  // What the browser saw (the link result) and what answer_ticket() said.
  struct Outcome {
    std::string result;
    std::optional<TicketFailure> failure;
    std::string first_message;  // the main channel's first mini header, after OK
  };

  static Outcome link(const std::string& password) {
    Outcome out;
    net::io_context ioc;
    tcp::socket qemu(ioc);
    qemu.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), spice_port()));
    UnixSocket gateway_end(ioc);
    UnixSocket browser_end(ioc);
    net::local::connect_pair(gateway_end, browser_end);
    stream::SocketStream<tcp::socket> console(std::move(qemu));
    stream::SocketStream<UnixSocket> browser_stream(std::move(gateway_end));
    auto done =
        net::co_spawn(ioc, answer_ticket(browser_stream, console, password), net::use_future);
    std::thread runner([&ioc] { ioc.run(); });

    Browser browser(browser_end.native_handle());
    browser.send(main_link_message());
    const std::string header = browser.recv(16);
    EXPECT_EQ(header.substr(0, 4), "REDQ");
    if (header.size() == 16) {
      const std::string reply = browser.recv(le32(header.substr(12)));
      EXPECT_EQ(le32(reply), 0u) << "the link reply's error";
      // QEMU has AUTH_SELECTION, as spice-html5 assumes: mechanism AUTH_SPICE,
      // then the browser's own (worthless) ticket.
      browser.send(u32(1) + std::string(128, '\x5a'));
      out.result = browser.recv(4);
    }
    if (done.wait_for(10s) == std::future_status::ready) {
      out.failure = done.get();
    } else {
      ADD_FAILURE() << "answer_ticket did not finish";
      ioc.stop();
    }
    runner.join();
    if (out.result == u32(0)) {
      // The channel is QEMU's now: its first message arrives on the console.
      pollfd p{console_fd(console), POLLIN, 0};
      if (::poll(&p, 1, 5000) == 1) {
        out.first_message.resize(6);
        const ssize_t n = ::recv(p.fd, out.first_message.data(), 6, MSG_WAITALL);
        out.first_message.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      }
    }
    return out;
  }

  static int console_fd(stream::SocketStream<tcp::socket>& console) {
    return console.socket().native_handle();
  }
};

TEST_F(SpiceTicketOnQemu, TheRightPasswordLinksTheMainChannel) {
  const Outcome o = link(kPassword);
  EXPECT_EQ(o.result, u32(0)) << "SPICE_LINK_ERR_OK reached the browser";
  EXPECT_FALSE(o.failure) << o.failure->reason << " / " << o.failure->detail;
  ASSERT_EQ(o.first_message.size(), 6u) << "the main channel's first message";
  const unsigned type = static_cast<unsigned char>(o.first_message[0]) |
                        static_cast<unsigned char>(o.first_message[1]) << 8;
  EXPECT_EQ(type, 103u) << "SPICE_MSG_MAIN_INIT";
}

TEST_F(SpiceTicketOnQemu, AWrongPasswordIsRejected) {
  const Outcome o = link("wrongpw1");
  EXPECT_EQ(o.result, u32(7)) << "SPICE_LINK_ERR_PERMISSION_DENIED reached the browser";
  ASSERT_TRUE(o.failure);
  EXPECT_EQ(o.failure->kind, TicketFailure::Kind::refused);
  EXPECT_EQ(o.failure->reason, "SPICE password rejected by the server");
  EXPECT_EQ(o.failure->server_error, LinkError::permission_denied);
}

}  // namespace
}  // namespace cgw::spice
