// Scale-out (docs/scaling.md): HAProxy (roundrobin, health checks on /healthz)
// in front of two console-gw processes that share the token key, the hosts and
// a real redis-server as their one-time token store. Sessions are spread over
// both; a one-time token used through one gateway is refused through the
// other, directly and through HAProxy; killing one gateway leaves new sessions
// working through the other; with Redis stopped one-time tokens are refused
// with 4505 (and the log says why) while ordinary tokens go on working.
//
// The consoles are the tests' echo console behind libvirt's test driver
// (in-process in each gateway), so no libvirtd is involved.
#include "tests/support/echo_console.hpp"
#include "tests/support/metrics.hpp"
#include "tests/support/process.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/tokens.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool healthy(std::uint16_t port) {
  try {
    return test::http_get(port, "/healthz").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// One spawned process, killed (SIGKILL) and waited for when it goes.
struct Child {
  pid_t pid = -1;
  std::string log;
  void kill() {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ~Child() { kill(); }
};

constexpr const char* kSpiceUuid = "0e4b1c8a-7a52-4c55-9d1e-0000000005e1";

class ScaleOut : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = scratch_.hs256_secret("token.key");
    // The echo console once more as a SPICE console (no password: the bytes
    // pass through), for the grace rule of SPICE's several channels.
    std::string xml = test::test_driver_node(echo_.port(), echo_.port());
    xml.insert(xml.rfind("</node>"),
               std::string("<domain type='test'><name>spice</name><uuid>") + kSpiceUuid +
                   "</uuid><memory>65536</memory><os><type>hvm</type></os><devices>"
                   "<graphics type='spice' port='" +
                   std::to_string(echo_.port()) + "' listen='127.0.0.1'/></devices></domain>");
    const std::string node = scratch_.write("node.xml", xml);
    for (int i = 0; i < 2; ++i) {
      ports_[i] = test::free_port();
      const std::string name = "gw" + std::to_string(i + 1);
      const std::string config = scratch_.write(
          name + ".toml",
          "[gateway]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(ports_[i]) +
              "\nthreads = 1\n\n[tokens]\nkey_file = \"" + key_ + "\"\nreplay_store = \"" +
              redis_.url() +
              "\"\nreplay_store_timeout = \"500ms\"\n\n[hosts.fake]\nuri = \"test://" + node +
              "\"\nvnc_security = \"passthrough\"\n");
      gateways_[i].log = scratch_.path(name + ".log");
      gateways_[i].pid = test::spawn({CONSOLE_GW, "--config", config}, gateways_[i].log);
    }
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(wait_until([&] { return healthy(ports_[i]); }, 10s))
          << read_file(gateways_[i].log);
    }
    proxy_port_ = test::free_port();
    // Plain HTTP here; etc/haproxy/console-gw.cfg adds TLS. The log has the
    // path only: the query string holds the token.
    const std::string cfg =
        scratch_.write("haproxy.cfg",
                       "global\n"
                       "    log stdout format raw local0\n"
                       "defaults\n"
                       "    mode http\n"
                       "    log global\n"
                       "    timeout connect 2s\n"
                       "    timeout client 30s\n"
                       "    timeout server 30s\n"
                       "    timeout tunnel 1h\n"
                       "    retries 2\n"
                       "    option redispatch 1\n"
                       "frontend consoles\n"
                       "    bind 127.0.0.1:" +
                           std::to_string(proxy_port_) +
                           "\n"
                           "    http-request set-var(txn.path) path\n"
                           "    log-format \"%ci:%cp %b/%s %ST %{+Q}[var(txn.path)]\"\n"
                           "    default_backend gateways\n"
                           "backend gateways\n"
                           "    balance roundrobin\n"
                           "    option httpchk GET /healthz\n"
                           "    http-check expect status 200\n"
                           "    server gw1 127.0.0.1:" +
                           std::to_string(ports_[0]) +
                           " check inter 200ms fall 2 rise 1\n"
                           "    server gw2 127.0.0.1:" +
                           std::to_string(ports_[1]) + " check inter 200ms fall 2 rise 1\n");
    haproxy_.log = scratch_.path("haproxy.log");
    haproxy_.pid = test::spawn({CGW_TEST_HAPROXY, "-f", cfg, "-db"}, haproxy_.log);
    ASSERT_TRUE(wait_until([&] { return healthy(proxy_port_); }, 10s)) << read_file(haproxy_.log);
  }

  std::string one_time(const std::string& jti, const char* uuid = test::kEchoUuid) const {
    token::MintRequest request;
    request.host_id = "fake";
    request.uuid = uuid;
    request.jti = jti;
    return token::mint(token::SigningKey::load_file(key_), request);
  }

  // Whether a console opens through `port` with `token` and echoes; the close
  // frame otherwise.
  test::CloseFrame open_echo(std::uint16_t port, const std::string& token) {
    auto client = test::console_client(port, token);
    try {
      client->write("ping");
    } catch (const std::exception&) {
      return client->read_until_close();  // refused: the close frame came first
    }
    const std::optional<std::string> got = client->read_message();
    if (got && *got == "ping") {
      client->close();
      return {1000, "echoed"};
    }
    return client->read_until_close();
  }

  double connected(int i) const {
    const std::string text = test::http_get(ports_[i], "/metrics").body;
    return test::metric_value(text, "console_gw_sessions_total{outcome=\"connected\"}")
        .value_or(-1);
  }

  std::string logs() const {
    return "--- gw1\n" + read_file(gateways_[0].log) + "--- gw2\n" + read_file(gateways_[1].log) +
           "--- haproxy\n" + read_file(haproxy_.log);
  }

  test::Scratch scratch_;
  test::EchoConsole echo_;
  test::RedisServer redis_{scratch_.dir().string()};
  std::string key_;
  std::uint16_t ports_[2] = {};
  std::uint16_t proxy_port_ = 0;
  Child gateways_[2];
  Child haproxy_;
};

TEST_F(ScaleOut, SessionsAreSpreadOverBothGateways) {
  const std::string token = test::mint_token(key_);
  std::vector<std::unique_ptr<test::WsClient>> open;
  for (int i = 0; i < 4; ++i) {
    open.push_back(test::console_client(proxy_port_, token));
    open.back()->write("x" + std::to_string(i));
    ASSERT_EQ(open.back()->read_exactly(2), "x" + std::to_string(i)) << logs();
  }
  EXPECT_EQ(connected(0), 2) << logs();
  EXPECT_EQ(connected(1), 2) << logs();
  for (auto& client : open) client->close();
}

TEST_F(ScaleOut, AOneTimeTokenUsedOnOneGatewayIsRefusedOnTheOther) {
  // Directly: opened on gw1, refused on gw2 (and on gw1 again).
  const std::string direct = one_time("cgw-scaleout-direct");
  EXPECT_EQ(open_echo(ports_[0], direct).reason, "echoed") << logs();
  const test::CloseFrame other = open_echo(ports_[1], direct);
  EXPECT_EQ(other.code, 4401);
  EXPECT_EQ(other.reason, "token already used");
  EXPECT_EQ(open_echo(ports_[0], direct).code, 4401);
  EXPECT_EQ(open_echo(proxy_port_, direct).code, 4401);

  // Through HAProxy: opened on one of them, refused on each, whichever
  // HAProxy picks next and directly.
  const std::string proxied = one_time("cgw-scaleout-proxied");
  EXPECT_EQ(open_echo(proxy_port_, proxied).reason, "echoed") << logs();
  for (std::uint16_t port : {proxy_port_, proxy_port_, ports_[0], ports_[1]}) {
    const test::CloseFrame again = open_echo(port, proxied);
    EXPECT_EQ(again.code, 4401) << port;
    EXPECT_EQ(again.reason, "token already used") << port;
  }
}

// spice-html5 opens one WebSocket per SPICE channel, each with the page's
// token; behind a load balancer they land on different gateways. The first
// use (its time and client address) is in Redis, so the further channels from
// the same browser are admitted on any gateway within the grace period.
TEST_F(ScaleOut, SpiceChannelsOfAOneTimeTokenOpenOnEitherGateway) {
  const std::string token = one_time("cgw-scaleout-spice", kSpiceUuid);
  auto main_channel = test::console_client(ports_[0], token);
  main_channel->write("main");
  ASSERT_EQ(main_channel->read_exactly(4), "main") << logs();
  for (std::uint16_t port : {ports_[1], ports_[0], proxy_port_, proxy_port_}) {
    EXPECT_EQ(open_echo(port, token).reason, "echoed") << port << "\n" << logs();
  }
  main_channel->close();
  // A VNC console has one connection: no grace for it.
  const std::string vnc = one_time("cgw-scaleout-vnc");
  EXPECT_EQ(open_echo(ports_[1], vnc).reason, "echoed");
  EXPECT_EQ(open_echo(ports_[0], vnc).code, 4401);
}

TEST_F(ScaleOut, KillingOneGatewayLeavesNewSessionsWorking) {
  const std::string token = test::mint_token(key_);
  EXPECT_EQ(open_echo(proxy_port_, token).reason, "echoed");
  gateways_[0].kill();
  // HAProxy's health check takes gw1 out.
  EXPECT_TRUE(wait_until(
      [&] { return read_file(haproxy_.log).find("gateways/gw1 is DOWN") != std::string::npos; },
      5s))
      << logs();
  const double before = connected(1);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(open_echo(proxy_port_, token).reason, "echoed") << i << "\n" << logs();
  }
  EXPECT_EQ(connected(1), before + 4);
  // One-time tokens too: gw2 alone uses them up in the shared store.
  const std::string once = one_time("cgw-scaleout-survivor");
  EXPECT_EQ(open_echo(proxy_port_, once).reason, "echoed");
  EXPECT_EQ(open_echo(proxy_port_, once).code, 4401);
}

TEST_F(ScaleOut, WithRedisStoppedOneTimeTokensAreRefusedAndOthersWork) {
  redis_.stop();
  for (int i = 0; i < 2; ++i) {  // whichever gateway HAProxy picks
    const test::CloseFrame refused = open_echo(proxy_port_, one_time("cgw-scaleout-down"));
    EXPECT_EQ(refused.code, 4505) << logs();
    EXPECT_EQ(refused.reason, "one-time token store unavailable");
  }
  EXPECT_EQ(open_echo(proxy_port_, test::mint_token(key_)).reason, "echoed") << logs();
  const std::string where = "redis at 127.0.0.1:" + std::to_string(redis_.port());
  for (int i = 0; i < 2; ++i) {
    const std::string log = read_file(gateways_[i].log);
    EXPECT_NE(log.find("one-time token store unavailable"), std::string::npos) << logs();
    EXPECT_NE(log.find(where + " unavailable"), std::string::npos) << logs();
  }
  for (int i = 0; i < 2; ++i) {
    const std::string text = test::http_get(ports_[i], "/metrics").body;
    EXPECT_EQ(test::metric_value(text, "console_gw_replay_store_errors_total"), 1) << text;
  }

  // Redis comes back: one-time tokens open again, once.
  redis_.start();
  std::this_thread::sleep_for(300ms);
  const std::string back = one_time("cgw-scaleout-back");
  EXPECT_EQ(open_echo(proxy_port_, back).reason, "echoed") << logs();
  EXPECT_EQ(open_echo(proxy_port_, back).code, 4401);
  EXPECT_EQ(open_echo(ports_[0], back).code, 4401);
  EXPECT_EQ(open_echo(ports_[1], back).code, 4401);
}

}  // namespace
}  // namespace cgw
