// A real console-gw Server (in this process) whose only host is libvirt's test
// driver (test://, in-process) with an EchoConsole behind it: stopping the
// gateway, its pings, its listening socket, its /metrics (checked by Debian's
// promtool), and the real console-gw binary's JSON log. No libvirtd, no QEMU,
// so these run in parallel with other tests (see CMakeLists.txt).
#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "in_process_gateway.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cgw {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

using test::InProcessGateway;

// What InProcessGateway's callers here adjust most: the ping interval and the port.
std::function<void(gateway::Config&)> ping_every(std::chrono::seconds interval) {
  return [interval](gateway::Config& c) { c.ping_interval = interval; };
}
std::function<void(gateway::Config&)> on_port(std::uint16_t port) {
  return [port](gateway::Config& c) { c.port = port; };
}

// An idle console is pinged every ping_interval, so proxies in between do not
// cut it; a client that answers stays connected.
TEST(GatewayPings, IdleConsolesArePingedAtTheConfiguredInterval) {
  InProcessGateway gw(ping_every(1s));
  auto client = gw.client();
  client->write("x");
  ASSERT_EQ(client->read_exactly(1), "x");
  // Nothing comes from the console now: only pings arrive (and are answered)
  // while the read waits, until the gateway stops and closes the console. It
  // stops once the client has seen two pings, or at a deadline far beyond them
  // (a gateway that never pings fails rather than hangs).
  const auto idle_from = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration to_second_ping{};
  std::thread stopper([&] {
    const auto deadline = idle_from + 10s;
    while (client->pings_seen() < 2 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    to_second_ping = std::chrono::steady_clock::now() - idle_from;
    gw.server().stop();
  });
  EXPECT_FALSE(client->read_message().has_value());
  stopper.join();
  EXPECT_GE(client->pings_seen(), 2);
  EXPECT_LE(client->pings_seen(), 5);
  // At the 1 s interval: two pings take more than one interval of silence (not
  // pinged faster than asked), and come within a few intervals (not at the
  // default 30 s, nor at some other interval than the configured one).
  EXPECT_GE(to_second_ping, 1s);
  EXPECT_LT(to_second_ping, 6s);
  gw.wait_stopped();
}

// Stopping the gateway (SIGTERM) ends open consoles in order: the browser hears
// 1001 and can say "restarting" instead of "connection lost".
TEST(GatewayStop, OpenConsolesAreClosedWith1001) {
  InProcessGateway gw;
  auto client = gw.client();
  client->write("ping");
  ASSERT_EQ(client->read_exactly(4), "ping");  // connected and pumping

  const auto stopped_at = std::chrono::steady_clock::now();
  gw.server().stop();
  const auto close = client->read_until_close();
  EXPECT_EQ(close.code, 1001);
  EXPECT_EQ(close.reason, "gateway restarting");
  gw.wait_stopped();  // run() returns once the consoles are closed
  EXPECT_LT(std::chrono::steady_clock::now() - stopped_at, 5s);
}

// A plain TCP connect to 127.0.0.1:port from a fresh source port: whether it
// was accepted by the kernel (refused when nothing listens).
bool tcp_connects(std::uint16_t port) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  return !ec;
}

// A stop closes the listening socket at once: new connections are refused
// rather than left in a backlog nobody accepts from. (A listening socket per
// network thread, tried with SO_REUSEPORT, must be closed on its own thread
// before the threads stop; this caught that.)
TEST(GatewayStop, ListeningEndsAtStop) {
  InProcessGateway gw;
  const std::uint16_t port = gw.server().port();
  ASSERT_TRUE(tcp_connects(port));
  gw.server().stop();
  gw.wait_stopped();
  // With several listening sockets the kernel picks one by the source port: try many.
  for (int i = 0; i < 32; ++i) ASSERT_FALSE(tcp_connects(port)) << "attempt " << i;
}

// A port in use is an error at start, not a port shared.
TEST(GatewayListen, PortInUseIsAnError) {
  InProcessGateway first;
  EXPECT_THROW(InProcessGateway(on_port(first.server().port())), boost::system::system_error);
  // The first one still serves.
  auto client = first.client();
  client->write("x");
  EXPECT_EQ(client->read_exactly(1), "x");
}

TEST(GatewayListen, AnotherProcessesReusePortGroupIsNotJoined) {
  // Sockets of one user may share a port with SO_REUSEPORT; the gateway must never
  // silently take half of the connections of another server's port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  const int on = 1;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on), 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  socklen_t size = sizeof address;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size), 0);
  EXPECT_THROW(InProcessGateway(on_port(ntohs(address.sin_port))), boost::system::system_error);
  ::close(fd);
}

// ---------------------------------------------------------------------------
// Metrics and logs

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of the sample `series` (name and labels, exactly as exposed), or
// nullopt when the exposition has no such line.
std::optional<double> sample(const std::string& exposition, const std::string& series) {
  const std::string start = "\n" + series + " ";
  const auto at = exposition.find(start);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(exposition.substr(at + start.size()));
}

// Reads /metrics until `series` has `value` (the server counts a session's end
// on its own thread, a moment after the client saw it), or the deadline passes.
std::string metrics_when(std::uint16_t port, const std::string& series, double value) {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = test::http_get(port, "/metrics").body;
    if (sample(text, series) == value) break;
    std::this_thread::sleep_for(25ms);
  }
  return text;
}

// One session opened and ended, one bad token refused: the counters moved.
TEST(GatewayMetrics, CountSessionsRefusalsAndBytes) {
  InProcessGateway gw;
  {
    auto client = gw.client();
    client->write("hello");
    ASSERT_EQ(client->read_exactly(5), "hello");
    const std::string open = test::http_get(gw.port(), "/metrics").body;
    EXPECT_EQ(sample(open, "console_gw_sessions_active"), 1) << open;
    EXPECT_EQ(sample(open, "console_gw_libvirt_connected{host=\"fake\"}"), 1) << open;
    client->close();
  }
  const test::HttpResponse refused = test::http_get(gw.port(), "/websockify?token=not-a-token");
  EXPECT_EQ(refused.status, 401);

  const std::string text = metrics_when(gw.port(), "console_gw_sessions_active", 0);
  EXPECT_EQ(sample(text, "console_gw_sessions_active"), 0) << text;
  EXPECT_EQ(sample(text, "console_gw_sessions_total{outcome=\"connected\"}"), 1) << text;
  EXPECT_EQ(sample(text, "console_gw_sessions_total{outcome=\"ended\"}"), 1) << text;
  EXPECT_EQ(sample(text, "console_gw_sessions_total{outcome=\"refused\"}"), 1) << text;
  EXPECT_EQ(sample(text, "console_gw_refusals_total{code=\"4401\",reason=\"invalid_token\"}"), 1)
      << text;
  EXPECT_EQ(sample(text, "console_gw_token_rejections_total{reason=\"malformed\"}"), 1) << text;
  EXPECT_EQ(sample(text, "console_gw_session_bytes_total{direction=\"to_console\"}"), 5) << text;
  EXPECT_EQ(sample(text, "console_gw_session_bytes_total{direction=\"to_client\"}"), 5) << text;
  EXPECT_EQ(sample(text, "console_gw_session_setup_seconds_count{path=\"direct\"}"), 1) << text;
  EXPECT_EQ(sample(text, "console_gw_session_setup_seconds_bucket{path=\"direct\",le=\"10\"}"), 1)
      << text;
  EXPECT_EQ(sample(text, "console_gw_session_duration_seconds_count"), 1) << text;
  EXPECT_EQ(sample(text, "console_gw_libvirt_connected{host=\"fake\"}"), 1) << text;
  EXPECT_NE(text.find("\nconsole_gw_build_info{version=\""), std::string::npos) << text;
  EXPECT_GT(sample(text, "process_start_time_seconds").value_or(0), 1.7e9) << text;
}

// Debian's promtool (package prometheus) reads what a running gateway exposes
// and has nothing to say about it.
TEST(GatewayMetrics, PromtoolAcceptsTheExposition) {
  const std::string promtool = CGW_TEST_PROMTOOL;
  ASSERT_EQ(::access(promtool.c_str(), X_OK), 0)
      << "promtool not found (" << promtool << "): run scripts/install-deps";
  InProcessGateway gw;
  {
    auto client = gw.client();
    client->write("x");
    ASSERT_EQ(client->read_exactly(1), "x");
    client->close();
  }
  test::http_get(gw.port(), "/websockify?token=x");
  const std::string text = metrics_when(gw.port(), "console_gw_sessions_active", 0);
  test::Scratch scratch;
  const std::string input = scratch.write("metrics.txt", text);
  const std::string output = scratch.path("promtool.out");
  const int status =
      std::system((promtool + " check metrics < '" + input + "' > '" + output + "' 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << slurp(output) << "\n" << text;
  EXPECT_EQ(slurp(output), "") << text;
}

// /metrics names hosts: only the peers in gateway.metrics_allow read it;
// others, and everyone when the list is empty, find nothing there.
TEST(GatewayMetrics, OnlyAllowedPeersReadMetrics) {
  InProcessGateway elsewhere([](gateway::Config& c) { c.metrics_allow = {"10.0.0.0/8"}; });
  const test::HttpResponse refused = test::http_get(elsewhere.port(), "/metrics");
  EXPECT_EQ(refused.status, 404);
  EXPECT_EQ(refused.body.find("console_gw"), std::string::npos);

  InProcessGateway off([](gateway::Config& c) { c.metrics_allow.clear(); });
  EXPECT_EQ(test::http_get(off.port(), "/metrics").status, 404);

  InProcessGateway loopback;  // the default: 127.0.0.0/8 and ::1
  EXPECT_EQ(test::http_get(loopback.port(), "/metrics").status, 200);
}

// Sends `request` as written over a plain socket and returns all the gateway
// answers until it closes (every request here asks for Connection: close).
std::string raw_exchange(std::uint16_t port, const std::string& request) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(socket, net::buffer(request));
  std::string answer;
  boost::system::error_code ec;
  char chunk[4096];
  for (;;) {
    const std::size_t n = socket.read_some(net::buffer(chunk), ec);
    answer.append(chunk, n);
    if (ec) break;
  }
  return answer;
}

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

// RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; whatever the request asks
// for (a page, the console page, a WebSocket), without one or with two it is
// answered 400 and the connection ends. HTTP/1.0 may still omit it.
TEST(GatewayHttp, Http11WithoutOrWithTwoHostHeadersIs400) {
  InProcessGateway gw;
  const std::string upgrade =
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  for (const std::string& target :
       {std::string("/healthz"), std::string("/console?token=") + gw.token()}) {
    const std::string none =
        raw_exchange(gw.port(), "GET " + target + " HTTP/1.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_line(none), "HTTP/1.1 400 Bad Request") << target;
    EXPECT_NE(none.find("without a Host header"), std::string::npos) << none;
    const std::string two = raw_exchange(
        gw.port(), "GET " + target +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\nConnection: "
                       "close\r\n\r\n");
    EXPECT_EQ(status_line(two), "HTTP/1.1 400 Bad Request") << target;
    EXPECT_NE(two.find("more than one Host header"), std::string::npos) << two;
  }
  const std::string ws_none = raw_exchange(
      gw.port(), "GET /websockify?token=" + gw.token() + " HTTP/1.1\r\n" + upgrade + "\r\n");
  EXPECT_EQ(status_line(ws_none), "HTTP/1.1 400 Bad Request") << ws_none;
  const std::string ws_two = raw_exchange(
      gw.port(), "GET /websockify?token=" + gw.token() +
                     " HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n" + upgrade + "\r\n");
  EXPECT_EQ(status_line(ws_two), "HTTP/1.1 400 Bad Request") << ws_two;

  const std::string one = raw_exchange(
      gw.port(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_line(one), "HTTP/1.1 200 OK") << one;
  const std::string old = raw_exchange(gw.port(), "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_line(old), "HTTP/1.0 200 OK") << old;
  // The WebSocket still opens with one Host.
  auto client = gw.client();
  client->write("ok");
  EXPECT_EQ(client->read_exactly(2), "ok");
}

std::string header_of(const std::string& answer, const std::string& name) {
  const std::string head = answer.substr(0, answer.find("\r\n\r\n"));
  const auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return {};
  const auto start = at + 4 + name.size();
  return head.substr(start, head.find("\r\n", start) - start);
}

std::string get(std::uint16_t port, const std::string& target) {
  return raw_exchange(
      port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

// Over a real socket: every answer says nosniff and no-referrer; the console
// page and the files have their policies, framed by the allowed origins; no
// directory is listed and no spelling of a path or a link leads out of a root.
TEST(GatewayHttp, SecurityHeadersAndStaticFilesStayInTheirRoots) {
  test::Scratch web;
  web.write("www/index.html", "<!doctype html>web");
  web.write("secret.txt", "secret");
  std::filesystem::create_symlink(web.dir() / "secret.txt", web.dir() / "www" / "out.txt");
  std::filesystem::create_symlink("index.html", web.dir() / "www" / "in.html");
  std::filesystem::create_directories(web.dir() / "www" / "sub");
  InProcessGateway gw([&web](gateway::Config& c) {
    c.web = (web.dir() / "www").string();
    c.allowed_origins = {"https://ui.example.com"};
  });

  for (const std::string& target : {std::string("/healthz"), std::string("/index.html"),
                                    std::string("/nope"), "/console?token=" + gw.token()}) {
    const std::string answer = get(gw.port(), target);
    EXPECT_EQ(header_of(answer, "X-Content-Type-Options"), "nosniff") << target << answer;
    EXPECT_EQ(header_of(answer, "Referrer-Policy"), "no-referrer") << target << answer;
  }
  const std::string page = get(gw.port(), "/console?token=" + gw.token());
  EXPECT_EQ(status_line(page), "HTTP/1.1 200 OK") << page;
  const std::string csp = header_of(page, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self' 'sha256-"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'self' https://ui.example.com"), std::string::npos) << csp;
  const std::string file = get(gw.port(), "/index.html");
  EXPECT_EQ(status_line(file), "HTTP/1.1 200 OK") << file;
  EXPECT_NE(header_of(file, "Content-Security-Policy").find("object-src 'none'"), std::string::npos)
      << file;
  EXPECT_EQ(status_line(get(gw.port(), "/in.html")), "HTTP/1.1 200 OK");

  for (const std::string target :
       {"/out.txt", "/sub", "/sub/", "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt", "/..%5csecret.txt", "/index.html%00.txt"}) {
    const std::string answer = get(gw.port(), target);
    EXPECT_EQ(status_line(answer).substr(9, 3), "404") << target << "\n" << answer;
    EXPECT_EQ(answer.find("secret"), std::string::npos) << target;
  }
  if (std::filesystem::is_directory("/usr/share/novnc")) {
    EXPECT_EQ(status_line(get(gw.port(), "/novnc/vnc.html")), "HTTP/1.1 200 OK");
    EXPECT_EQ(status_line(get(gw.port(), "/novnc/vnc_auto.html")), "HTTP/1.1 200 OK");
    EXPECT_EQ(status_line(get(gw.port(), "/novnc/core/")), "HTTP/1.1 404 Not Found");
    EXPECT_EQ(status_line(get(gw.port(), "/novnc%2fvnc.html")), "HTTP/1.1 404 Not Found");
  }
}

// The real binary with --log-format json: every line it writes is one JSON
// object, and the session's start and end carry their fields with their types.
TEST(GatewayLogs, JsonFormatWritesOneObjectPerLine) {
  test::Scratch scratch;
  test::EchoConsole echo;
  test::ClosedPort closed;
  const std::string secret = scratch.hs256_secret("token.key");
  const std::uint16_t port = test::free_port();
  const std::string node =
      scratch.write("node.xml", test::test_driver_node(echo.port(), closed.port()));
  const std::string config = scratch.write(
      "gw.toml", "[gateway]\nlisten = \"127.0.0.1\"\nport = " + std::to_string(port) +
                     "\n[tokens]\nkey_file = \"" + secret + "\"\n[hosts.fake]\nuri = \"test://" +
                     node + "\"\nvnc_security = \"passthrough\"\n");
  const std::string log = scratch.path("gateway.log");
  const pid_t gateway = test::spawn({CONSOLE_GW, "--config", config, "--log-format", "json"}, log);
  // Stops the gateway once, here or when the test ends early. Only a positive
  // pid is ever signalled: kill(-1) would signal every process.
  struct Stop {
    pid_t pid;
    void now() {
      if (pid <= 0) return;
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
      pid = 0;
    }
    ~Stop() { now(); }
  } stop{gateway};
  ASSERT_GT(gateway, 0);
  bool up = false;
  for (int i = 0; i < 400 && !up; ++i) {
    try {
      up = test::http_get(port, "/healthz").status == 200;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(25ms);
    }
  }
  ASSERT_TRUE(up) << slurp(log);

  token::MintRequest request;
  request.host_id = "fake";
  request.uuid = test::kEchoUuid;
  test::WsOptions options;
  options.port = port;
  options.target =
      "/websockify?token=" + token::mint(token::SigningKey::load_file(secret), request);
  {
    auto client = test::WsClient::connect(options);
    client->write("abc");
    ASSERT_EQ(client->read_exactly(3), "abc");
    client->close();
  }
  EXPECT_EQ(test::http_get(port, "/websockify?token=bad").status, 401);
  metrics_when(port, "console_gw_sessions_total{outcome=\"ended\"}", 1);
  stop.now();

  namespace json = boost::json;
  std::istringstream lines(slurp(log));
  std::vector<json::object> started, ended, refused;
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    boost::system::error_code ec;
    const json::value value = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(value.is_object()) << line;
    const json::object& o = value.as_object();
    for (const char* key : {"ts", "level", "component", "msg"}) {
      ASSERT_TRUE(o.contains(key) && o.at(key).is_string()) << key << " in " << line;
    }
    const json::value* outcome = o.if_contains("outcome");
    if (!outcome) continue;
    if (*outcome == "connected") started.push_back(o);
    if (*outcome == "ended") ended.push_back(o);
    if (*outcome == "refused") refused.push_back(o);
  }
  EXPECT_GT(count, 3);
  ASSERT_EQ(started.size(), 1u) << slurp(log);
  ASSERT_EQ(ended.size(), 1u) << slurp(log);
  ASSERT_EQ(refused.size(), 1u) << slurp(log);
  for (const json::object* o : {&started[0], &ended[0]}) {
    EXPECT_EQ(o->at("component"), "gateway");
    EXPECT_EQ(o->at("level"), "info");
    EXPECT_TRUE(o->at("session").is_number());
    EXPECT_TRUE(o->at("client").as_string().starts_with("127.0.0.1:"));
    EXPECT_EQ(o->at("host"), "fake");
    EXPECT_EQ(o->at("uuid"), test::kEchoUuid);
    EXPECT_EQ(o->at("path"), "direct");
  }
  EXPECT_EQ(started[0].at("msg"), "session started");
  EXPECT_EQ(started[0].at("domain"), "echo");
  EXPECT_TRUE(started[0].at("setup").is_number());
  EXPECT_EQ(ended[0].at("msg"), "session ended");
  EXPECT_EQ(ended[0].at("session"), started[0].at("session"));
  EXPECT_EQ(ended[0].at("to_console").to_number<int>(), 3);
  EXPECT_EQ(ended[0].at("to_client").to_number<int>(), 3);
  EXPECT_TRUE(ended[0].at("duration").is_number());
  EXPECT_EQ(refused[0].at("code").to_number<int>(), 4401);
  EXPECT_EQ(refused[0].at("reason"), "malformed token");
  EXPECT_EQ(refused[0].at("host"), "-");
  EXPECT_EQ(refused[0].at("path"), "-");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A reload (SIGHUP) reads the token key file again: tokens signed with the new
// key open consoles, the old key's are refused, and a console opened before the
// reload goes on streaming.
TEST(GatewayReload, NewTokenKeyServesNewSessionsAndOpenOnesGoOn) {
  InProcessGateway gw;
  const std::string key_a = gw.scratch().write("a.key", read_file(gw.key_file()));
  const std::string key_b = gw.scratch().hs256_secret("b.key");
  auto opened_before = gw.client(key_a);
  opened_before->write("before");
  ASSERT_EQ(opened_before->read_exactly(6), "before");
  ASSERT_EQ(gw.status_for(key_a), 426);
  ASSERT_EQ(gw.status_for(key_b), 401);

  gw.scratch().write("token.key", read_file(key_b));
  gw.server().reload(gw.config());

  EXPECT_EQ(gw.status_for(key_a), 401);
  EXPECT_EQ(gw.status_for(key_b), 426);
  auto opened_after = gw.client(key_b);
  opened_after->write("after");
  EXPECT_EQ(opened_after->read_exactly(5), "after");
  opened_before->write("still");
  EXPECT_EQ(opened_before->read_exactly(5), "still");
}

// A reload whose key can't be loaded changes nothing: the key in use goes on.
TEST(GatewayReload, BrokenKeyIsRefusedAndTheOldOneServes) {
  InProcessGateway gw;
  const std::string key_a = gw.scratch().write("a.key", read_file(gw.key_file()));
  gw.scratch().write("token.key", "");
  try {
    gw.server().reload(gw.config());
    FAIL() << "an empty key file was accepted";
  } catch (const gateway::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("tokens.key_file"), std::string::npos) << e.what();
  }
  EXPECT_EQ(gw.status_for(key_a), 426);
  auto client = gw.client(key_a);
  client->write("x");
  EXPECT_EQ(client->read_exactly(1), "x");
}

// A reload reads the certificate and key again: new TLS handshakes present the
// new certificate, and a wss:// console opened before goes on with the old one.
TEST(GatewayReload, NewCertificateServesNewHandshakes) {
  InProcessGateway gw({}, 0, InProcessGateway::Tls::on);
  const std::string cert_a = gw.config().cert;
  auto opened_before = gw.tls_client(cert_a);
  opened_before->write("a");
  ASSERT_EQ(opened_before->read_exactly(1), "a");

  gateway::Config next = gw.config();
  std::tie(next.cert, next.key) = gw.scratch().tls_certificate("tls-b");
  gw.server().reload(next);

  auto opened_after = gw.tls_client(next.cert);
  opened_after->write("b");
  EXPECT_EQ(opened_after->read_exactly(1), "b");
  EXPECT_ANY_THROW(gw.tls_client(cert_a)) << "the old certificate is still presented";
  opened_before->write("c");
  EXPECT_EQ(opened_before->read_exactly(1), "c");

  // A certificate that can't be loaded changes nothing.
  gateway::Config broken = next;
  broken.cert = gw.scratch().write("missing/tls.crt", "not a certificate");
  EXPECT_THROW(gw.server().reload(broken), gateway::ConfigError);
  auto after_broken = gw.tls_client(next.cert);
  after_broken->write("d");
  EXPECT_EQ(after_broken->read_exactly(1), "d");
}

}  // namespace
}  // namespace cgw

namespace cgw {
namespace {

// A one-time token (a "jti") over real sockets: the first WebSocket opens the
// console, the second is refused with 4401 "token already used", and the
// metrics count it as a replay.
TEST(GatewayOneTimeToken, OpensOnceOverTheWire) {
  InProcessGateway gw;
  token::MintRequest request;
  request.host_id = "fake";
  request.uuid = test::kEchoUuid;
  request.jti = "cgw-test-once";
  const std::string jwt = token::mint(token::SigningKey::load_file(gw.key_file()), request);
  test::WsOptions o;
  o.port = gw.port();
  o.target = "/websockify?token=" + jwt;
  {
    auto first = test::WsClient::connect(o);
    first->write("once");
    ASSERT_EQ(first->read_exactly(4), "once");
    auto second = test::WsClient::connect(o);
    const auto close = second->read_until_close();
    EXPECT_EQ(close.code, 4401);
    EXPECT_EQ(close.reason, "token already used");
    first->close();
  }
  const std::string text = test::http_get(gw.port(), "/metrics").body;
  EXPECT_EQ(sample(text, "console_gw_token_rejections_total{reason=\"replayed\"}"), 1) << text;
}

}  // namespace
}  // namespace cgw

namespace cgw {
namespace {

// A drain (the first SIGTERM): no new connections, the open console goes on,
// and the gateway stops as soon as it ends, well before the deadline.
TEST(GatewayDrain, OpenConsolesRunOnAndTheGatewayStopsWhenTheyEnd) {
  InProcessGateway gw;
  const std::uint16_t port = gw.server().port();
  auto client = gw.client();
  client->write("a");
  ASSERT_EQ(client->read_exactly(1), "a");

  const auto started = std::chrono::steady_clock::now();
  gw.server().drain(30s);
  for (int i = 0; i < 100 && tcp_connects(port); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(tcp_connects(port));
  std::this_thread::sleep_for(300ms);
  client->write("b");  // still pumping
  EXPECT_EQ(client->read_exactly(1), "b");
  client->close();
  gw.wait_stopped();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

// At the deadline the consoles still open are closed with 1001.
TEST(GatewayDrain, AtTheDeadlineOpenConsolesGet1001) {
  InProcessGateway gw;
  auto client = gw.client();
  client->write("a");
  ASSERT_EQ(client->read_exactly(1), "a");
  const auto started = std::chrono::steady_clock::now();
  gw.server().drain(1s);
  const auto close = client->read_until_close();
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(close.code, 1001);
  EXPECT_EQ(close.reason, "gateway restarting");
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 8s);
  gw.wait_stopped();
}

// stop() during a drain cuts it short.
TEST(GatewayDrain, StopCutsADrainShort) {
  InProcessGateway gw;
  auto client = gw.client();
  client->write("a");
  ASSERT_EQ(client->read_exactly(1), "a");
  gw.server().drain(60s);
  std::this_thread::sleep_for(200ms);
  const auto started = std::chrono::steady_clock::now();
  gw.server().stop();
  EXPECT_EQ(client->read_until_close().code, 1001);
  gw.wait_stopped();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s);
}

}  // namespace
}  // namespace cgw
