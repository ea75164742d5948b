// Faults of the real libvirtd and QEMU, through the real console-gw binary:
// libvirtd restarted while a console streams, a VM destroyed in the middle of
// a session, libvirtd hanging (SIGSTOP). Each leaves libvirtd running and
// answering for the tests after it (they share the `libvirtd` fixture and lock).
#include "tests/faults/gateway_process.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/echo_console.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>

#include <signal.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kGreeting = "RFB 003.008\n";

// Whether the first bytes of `client`'s console are QEMU's RFB greeting.
::testing::AssertionResult greeted(test::WsClient& client) {
  const std::string got = client.read_exactly(kGreeting.size());
  if (got == kGreeting) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "console began with \"" << got << "\", not the RFB greeting";
}

std::size_t count_lines(const std::string& log, const std::vector<std::string>& words) {
  std::istringstream in(log);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    if (std::all_of(words.begin(), words.end(),
                    [&line](const std::string& w) { return line.find(w) != std::string::npos; })) {
      ++n;
    }
  }
  return n;
}

// A running QEMU domain with VNC on loopback TCP, its name marked with this
// process's pid (scripts/lib/libvirt.sh removes what a dead test left).
test::TestDomain vnc_domain(const std::string& what) {
  return test::TestDomain("cgw-it-faults-" + what + "-" + std::to_string(::getpid()),
                          "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
                          "<video><model type='cirrus'/></video>");
}

// The gateway in front of the system libvirtd ("local"); RFB passes through, so
// the browser speaks to QEMU's VNC server itself.
const std::string kLocalHost =
    "[hosts.local]\nuri = \"qemu:///system\"\nvnc_security = \"passthrough\"\n";

std::unique_ptr<test::WsClient> open_console(const test::GatewayProcess& gw,
                                             const std::string& host, const std::string& uuid) {
  test::WsOptions o;
  o.port = gw.port();
  o.target = gw.target(host, uuid);
  return test::WsClient::connect(o);
}

void libvirt_sh(const std::string& function) {
  test::run("bash -c \". '" CGW_LIBVIRT_SH "' && " + function + "\"");
}

pid_t libvirtd_pid() {
  std::ifstream in("/run/libvirtd.pid");
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

// libvirtd restarted while a console streams: the console keeps streaming (its
// socket goes from the gateway to QEMU, not through libvirtd), and a new
// session after the restart opens at the first try: the gateway notices its
// libvirt connection died and opens a new one by itself.
TEST(LibvirtFaults, LibvirtdRestartKeepsSessionsAndReconnects) {
  auto domain = vnc_domain("restart");
  test::Scratch scratch;
  test::GatewayProcess gw(scratch, "libvirt_timeout = \"10s\"", kLocalHost);
  auto streaming = open_console(gw, "local", domain.uuid());
  ASSERT_TRUE(greeted(*streaming));

  // The test's own libvirt connection dies with it too; closing it writes to
  // its dead socket.
  ::signal(SIGPIPE, SIG_IGN);
  libvirt_sh("cgw_libvirtd_restart");
  test::reconnect_libvirt();

  // The session in flight goes on: the RFB handshake, then ServerInit.
  streaming->write(kGreeting);
  const std::string types = streaming->read_exactly(2);  // one type: None (QEMU without password)
  ASSERT_EQ(types[0], '\x01');
  ASSERT_EQ(types[1], '\x01');
  streaming->write(std::string(1, '\x01'));
  EXPECT_EQ(streaming->read_exactly(4), std::string(4, '\0'));  // SecurityResult: OK
  streaming->write(std::string(1, '\x01'));                     // ClientInit, shared
  const std::string init = streaming->read_exactly(24);         // ServerInit up to the name
  EXPECT_GT((static_cast<unsigned char>(init[0]) << 8) | static_cast<unsigned char>(init[1]), 0);

  // A new session opens, at once and at the first try.
  const auto start = Clock::now();
  auto fresh = open_console(gw, "local", domain.uuid());
  EXPECT_TRUE(greeted(*fresh));
  EXPECT_LT(Clock::now() - start, 5s);
  const std::string log = gw.log();
  EXPECT_EQ(count_lines(log, {"outcome=refused"}), 0u) << log;
  EXPECT_EQ(count_lines(log, {"host=local", "reconnecting"}), 1u) << log;
  streaming->close();
  fresh->close();
  EXPECT_TRUE(gw.stop());
}

// A VM destroyed in the middle of a session: the browser hears 1000 "console
// closed: the VM stopped" (not only "console closed"), and the gateway holds no more descriptors
// than before the session.
TEST(LibvirtFaults, DestroyedVmClosesTheSessionWithAReason) {
  auto domain = vnc_domain("destroy");
  test::Scratch scratch;
  test::GatewayProcess gw(scratch, "libvirt_timeout = \"10s\"", kLocalHost);
  {
    // The first session opens the libvirt connection, which stays.
    auto first = open_console(gw, "local", domain.uuid());
    ASSERT_TRUE(greeted(*first));
    first->close();
  }
  ASSERT_TRUE(gw.none_active_within(5s));
  const auto before = gw.sample();
  ASSERT_TRUE(before);

  auto client = open_console(gw, "local", domain.uuid());
  ASSERT_TRUE(greeted(*client));
  const auto destroyed_at = Clock::now();
  test::run("virsh -q -c qemu:///system destroy " + domain.name() + " >/dev/null");
  const test::CloseFrame close = client->read_until_close();
  EXPECT_EQ(close.code, 1000);
  EXPECT_EQ(close.reason, "console closed: the VM stopped");
  EXPECT_LT(Clock::now() - destroyed_at, 10s);
  client.reset();

  EXPECT_TRUE(gw.none_active_within(5s));
  // Back to the descriptors it had before the session (within a moment).
  EXPECT_TRUE(gw.fds_at_most_within(before->fds, 3s));
  const std::string log = gw.log();
  EXPECT_EQ(count_lines(
                log, {"outcome=ended", "by=console", "reason=\"console closed: the VM stopped\""}),
            1u)
      << log;
  EXPECT_TRUE(gw.stop());
}

// libvirtd stopped (SIGSTOP) so that it accepts and never answers: the lookup's
// time limit answers with 4502 "hypervisor timed out", a console of another
// host opens meanwhile, and once libvirtd goes on (SIGCONT) consoles open again.
TEST(LibvirtFaults, HangingLibvirtdAnswersWithTheTimeLimit) {
  auto domain = vnc_domain("hang");
  test::Scratch scratch;
  test::EchoConsole echo;
  test::ClosedPort closed;
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(echo.port(), closed.port()));
  test::GatewayProcess gw(
      scratch, "libvirt_timeout = \"2s\"",
      kLocalHost + "[hosts.fake]\nuri = \"test://" + node + "\"\nvnc_security = \"passthrough\"\n");
  const pid_t libvirtd = libvirtd_pid();
  ASSERT_GT(libvirtd, 0);
  ASSERT_EQ(::kill(libvirtd, SIGSTOP), 0);
  struct Continue {
    pid_t pid;
    ~Continue() { ::kill(pid, SIGCONT); }
  } resume{libvirtd};

  auto hung = std::async(std::launch::async, [&] {
    const auto start = Clock::now();
    auto client = open_console(gw, "local", domain.uuid());
    const test::CloseFrame close = client->read_until_close();
    return std::make_pair(close, Clock::now() - start);
  });
  std::this_thread::sleep_for(300ms);
  auto other = open_console(gw, "fake", test::kEchoUuid);
  other->write("x");
  EXPECT_EQ(other->read_exactly(1), "x");
  const auto [close, took] = hung.get();
  EXPECT_EQ(close.code, 4502);
  EXPECT_EQ(close.reason, "hypervisor timed out");
  EXPECT_GE(took, 1900ms);
  EXPECT_LT(took, 4s);

  ::kill(libvirtd, SIGCONT);
  // libvirtd goes on; the call that waited completes, and consoles open again.
  const auto deadline = Clock::now() + 15s;
  bool opened = false;
  while (!opened && Clock::now() < deadline) {
    auto again = open_console(gw, "local", domain.uuid());
    const auto greeting = again->read_message();
    opened = greeting && *greeting == kGreeting;
    if (!opened) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(opened);
  other->close();
  EXPECT_TRUE(gw.stop());
}

}  // namespace
}  // namespace cgw
