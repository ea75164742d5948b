// SshTunnels against a real OpenSSH sshd on loopback, with real consoles (a TCP
// and a UNIX socket echo server) behind it.
#include "backends.hpp"
#include "sshd_fixture.hpp"

#include "tests/support/closed_port.hpp"
#include "tunnel/ssh_tunnels.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include <thread>

#include <unistd.h>

namespace cgw::tunnel::test {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using namespace net::experimental::awaitable_operators;
using Failure = ConnectResult::Failure;
using Clock = std::chrono::steady_clock;
using stream::ByteStream;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::size_t chunk = 64 * 1024;

// Runs `task` on `context` (this thread) until it finishes; fails the test
// instead of hanging when it takes longer than `limit`.
template <class T>
T run(net::io_context& context, net::awaitable<T> task, std::chrono::seconds limit = 30s) {
  auto future = net::co_spawn(context, std::move(task), net::use_future);
  const auto deadline = Clock::now() + limit;
  while (future.wait_for(0s) != std::future_status::ready) {
    if (Clock::now() > deadline) throw std::runtime_error("test task did not finish in time");
    context.restart();
    context.run_for(20ms);
  }
  return future.get();
}

// Lets everything still queued run, as at the end of a program: after
// shutdown() the io_context must run out of work on its own.
bool drain(net::io_context& context, std::chrono::seconds limit = 5s) {
  context.restart();
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    context.run_for(50ms);
    if (context.stopped()) return true;
    context.restart();
  }
  return false;
}

net::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  net::steady_timer timer(co_await net::this_coro::executor, duration);
  co_await timer.async_wait(use_tuple);
}

// FNV-1a, to compare what went in and what came back.
std::uint64_t checksum(const std::string& data) {
  std::uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : data) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937_64 generator(seed);
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; i += 8) {
    const std::uint64_t value = generator();
    for (std::size_t j = 0; j < 8 && i + j < size; ++j)
      data[i + j] = static_cast<char>(value >> (8 * j));
  }
  return data;
}

net::awaitable<stream::error_code> write_all(ByteStream& stream, const std::string& data) {
  for (std::size_t done = 0; done < data.size(); done += chunk) {
    const std::size_t n = std::min(chunk, data.size() - done);
    if (auto ec = co_await stream.write(net::buffer(data.data() + done, n))) co_return ec;
  }
  co_return stream::error_code{};
}

net::awaitable<std::string> read_exactly(ByteStream& stream, std::size_t size) {
  std::string data;
  auto buffer = std::make_unique<char[]>(chunk);
  while (data.size() < size) {
    auto [ec, n] =
        co_await stream.read_some(net::buffer(buffer.get(), std::min(chunk, size - data.size())));
    if (ec) break;
    data.append(buffer.get(), n);
  }
  co_return data;
}

struct Exchange {
  std::string greeting;
  std::uint64_t sent = 0;      // checksum of what was written
  std::uint64_t received = 0;  // checksum of what came back
  std::size_t received_size = 0;
};

// Reads the console's greeting, then sends `data` and reads it back at the same time.
net::awaitable<Exchange> greet_and_echo(ByteStream& stream, std::string data) {
  Exchange exchange;
  exchange.greeting = co_await read_exactly(stream, sizeof greeting - 1);
  exchange.sent = checksum(data);
  auto [write_error, echoed] =
      co_await (write_all(stream, data) && read_exactly(stream, data.size()));
  EXPECT_FALSE(write_error) << write_error.message();
  exchange.received = checksum(echoed);
  exchange.received_size = echoed.size();
  co_return exchange;
}

void expect_echo(const Exchange& exchange, std::size_t size) {
  EXPECT_EQ(exchange.greeting, greeting);
  EXPECT_EQ(exchange.received_size, size);
  EXPECT_EQ(exchange.received, exchange.sent);
}

// Established TCP connections from this machine to `port`: the SSH sessions.
int connections_to(std::uint16_t port) {
  if (std::string(CGW_TEST_SS).empty()) return -1;
  std::istringstream lines(
      run_command(std::string(CGW_TEST_SS) +
                  " -Htn state established '( dport = :" + std::to_string(port) + " )'"));
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) ++count;
  }
  return count;
}

ConsolePath tcp_console(std::uint16_t port) {
  ConsolePath path;
  path.kind = ConsolePath::Kind::ssh_tcp;
  path.address = "127.0.0.1";
  path.port = port;
  return path;
}

ConsolePath unix_console(std::string socket_path) {
  ConsolePath path;
  path.kind = ConsolePath::Kind::ssh_unix;
  path.socket_path = std::move(socket_path);
  return path;
}

class SshTunnelsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    host_key_ = new KeyPair(generate_key(dir_->path("host_ed25519"), "ed25519"));
    other_host_key_ = new KeyPair(generate_key(dir_->path("other_host_ed25519"), "ed25519"));
    client_ = new KeyPair(generate_key(dir_->path("client_ed25519"), "ed25519"));
    client_rsa_ = new KeyPair(generate_key(dir_->path("client_rsa"), "rsa"));
    stranger_ = new KeyPair(generate_key(dir_->path("stranger_ed25519"), "ed25519"));
    write_file(dir_->path("authorized_keys"),
               client_->public_line + "\n" + client_rsa_->public_line + "\n");
    sshd_ = new Sshd(dir_->dir().string(), free_port(), host_key_->private_key,
                     dir_->path("authorized_keys"));
    sshd_->start();
    write_known_hosts("known_hosts", *host_key_, sshd_->port());
    write_known_hosts("known_hosts_changed", *other_host_key_, sshd_->port());
    write_file(dir_->path("known_hosts_empty"), "");
    backends_ = new EchoBackends(dir_->path("console.sock"));
  }

  static void TearDownTestSuite() {
    delete backends_;
    delete sshd_;
    delete stranger_;
    delete client_rsa_;
    delete client_;
    delete other_host_key_;
    delete host_key_;
    delete dir_;
  }

  void TearDown() override {
    if (tunnels_) {
      tunnels_->shutdown();
      tunnels_.reset();
      EXPECT_TRUE(drain(context_)) << "the io_context kept work after shutdown()";
    }
  }

  static void write_known_hosts(const std::string& name, const KeyPair& key, std::uint16_t port) {
    // Only the key type and the key: the comment ssh-keygen added is no part of it.
    std::istringstream words(key.public_line);
    std::string type, base64;
    words >> type >> base64;
    write_file(dir_->path(name),
               "[127.0.0.1]:" + std::to_string(port) + " " + type + " " + base64 + "\n");
  }

  SshTunnels& tunnels(SshTunnelOptions options = {}) {
    tunnels_ = std::make_shared<SshTunnels>(context_.get_executor(), options);
    return *tunnels_;
  }

  static HostRoute host(std::uint16_t port, std::string key_file = client_->private_key,
                        std::string known_hosts = dir_->path("known_hosts")) {
    HostRoute route;
    route.id = "hv1";
    route.uri = "qemu+ssh://root@127.0.0.1:" + std::to_string(port) + "/system";
    route.hostname = "127.0.0.1";
    SshSettings ssh;
    ssh.host = "127.0.0.1";
    ssh.port = port;
    ssh.user = "root";
    ssh.key_file = std::move(key_file);
    ssh.known_hosts = std::move(known_hosts);
    route.ssh = ssh;
    return route;
  }

  static inline TempDir* dir_ = nullptr;
  static inline KeyPair* host_key_ = nullptr;
  static inline KeyPair* other_host_key_ = nullptr;
  static inline KeyPair* client_ = nullptr;
  static inline KeyPair* client_rsa_ = nullptr;
  static inline KeyPair* stranger_ = nullptr;
  static inline Sshd* sshd_ = nullptr;
  static inline EchoBackends* backends_ = nullptr;

  net::io_context context_;
  std::shared_ptr<SshTunnels> tunnels_;
};

net::awaitable<Exchange> open_and_echo(SshTunnels& tunnels, HostRoute host, ConsolePath path,
                                       std::size_t size) {
  ConnectResult result = co_await tunnels.open(host, path);
  EXPECT_TRUE(result) << result.reason;
  if (!result) co_return Exchange{};
  co_return co_await greet_and_echo(*result.stream, random_bytes(size, 7));
}

net::awaitable<ConnectResult> open_only(SshTunnels& tunnels, HostRoute host, ConsolePath path) {
  co_return co_await tunnels.open(host, path);
}

TEST_F(SshTunnelsTest, TcpConsoleThroughDirectTcpipEchoesBulkBothWays) {
  constexpr std::size_t size = 8 * 1024 * 1024;
  SshTunnels& t = tunnels();
  const Exchange exchange = run(
      context_, open_and_echo(t, host(sshd_->port()), tcp_console(backends_->tcp_port()), size));
  expect_echo(exchange, size);
  EXPECT_EQ(t.live_sessions("hv1"), 1u);
}

TEST_F(SshTunnelsTest, UnixConsoleThroughDirectStreamlocalEchoesBulkBothWays) {
  constexpr std::size_t size = 8 * 1024 * 1024;
  SshTunnels& t = tunnels();
  const Exchange exchange = run(
      context_, open_and_echo(t, host(sshd_->port()), unix_console(backends_->unix_path()), size));
  expect_echo(exchange, size);
}

TEST_F(SshTunnelsTest, RsaClientKeyAuthenticates) {
  SshTunnels& t = tunnels();
  const Exchange exchange =
      run(context_, open_and_echo(t, host(sshd_->port(), client_rsa_->private_key),
                                  tcp_console(backends_->tcp_port()), 4096));
  expect_echo(exchange, 4096);
}

struct Ending {
  std::string greeting;
  stream::error_code first;
  stream::error_code again;
  bool other_still_echoes = false;
};

net::awaitable<Ending> console_that_closes(SshTunnels& tunnels, HostRoute host, ConsolePath closing,
                                           ConsolePath echo) {
  Ending ending;
  ConnectResult other = co_await tunnels.open(host, echo);
  ConnectResult result = co_await tunnels.open(host, closing);
  EXPECT_TRUE(other && result) << other.reason << result.reason;
  if (!other || !result) co_return ending;
  ending.greeting = co_await read_exactly(*result.stream, sizeof greeting - 1);
  char buffer[64];
  auto [first, n1] = co_await result.stream->read_some(net::buffer(buffer));
  auto [again, n2] = co_await result.stream->read_some(net::buffer(buffer));
  ending.first = first;
  ending.again = again;
  const Exchange exchange = co_await greet_and_echo(*other.stream, random_bytes(10000, 12));
  ending.other_still_echoes = exchange.greeting == greeting && exchange.received == exchange.sent &&
                              exchange.received_size == 10000;
  co_return ending;
}

TEST_F(SshTunnelsTest, ConsoleClosingEndsItsStreamWithEofAndNothingElse) {
  SshTunnels& t = tunnels();
  const Ending ending = run(
      context_, console_that_closes(t, host(sshd_->port()), tcp_console(backends_->closing_port()),
                                    tcp_console(backends_->tcp_port())));
  EXPECT_EQ(ending.greeting, greeting);
  EXPECT_EQ(ending.first, net::error::eof) << ending.first.message();
  EXPECT_EQ(ending.again, net::error::eof) << ending.again.message();
  EXPECT_TRUE(ending.other_still_echoes);
  EXPECT_EQ(t.live_sessions("hv1"), 1u);
}

// Records when a detached write finishes.
struct PendingWrite {
  bool done = false;
  stream::error_code error;
};

net::awaitable<void> write_and_record(ByteStream& stream, std::string data, PendingWrite& pending) {
  pending.error = co_await write_all(stream, data);
  pending.done = true;
}

struct StallReport {
  bool done_while_deaf = true;
  bool done_after_abort = false;
  stream::error_code error;
  Clock::duration abort_to_done{};
};

net::awaitable<StallReport> write_to_deaf_console(SshTunnels& tunnels, HostRoute host,
                                                  ConsolePath path) {
  StallReport report;
  ConnectResult result = co_await tunnels.open(host, path);
  EXPECT_TRUE(result) << result.reason;
  if (!result) co_return report;
  EXPECT_EQ(co_await read_exactly(*result.stream, sizeof greeting - 1), greeting);
  // Far more than sshd's channel window and the kernel's socket buffers together.
  PendingWrite pending;
  net::co_spawn(co_await net::this_coro::executor,
                write_and_record(*result.stream, std::string(48 * 1024 * 1024, 'w'), pending),
                net::detached);
  co_await sleep_for(1000ms);
  report.done_while_deaf = pending.done;
  const auto aborted = Clock::now();
  result.stream->abort();
  for (int i = 0; i < 200 && !pending.done; ++i) co_await sleep_for(10ms);
  report.done_after_abort = pending.done;
  report.abort_to_done = Clock::now() - aborted;
  report.error = pending.error;
  co_return report;
}

TEST_F(SshTunnelsTest, WriteWaitsWhileTheConsoleDoesNotReadAndAbortEndsIt) {
  SshTunnels& t = tunnels();
  const StallReport report = run(
      context_, write_to_deaf_console(t, host(sshd_->port()), tcp_console(backends_->deaf_port())));
  EXPECT_FALSE(report.done_while_deaf) << "48 MiB written to a console that reads nothing";
  EXPECT_TRUE(report.done_after_abort);
  EXPECT_TRUE(report.error);
  EXPECT_LT(report.abort_to_done, 1s);
}

struct Flow {
  std::uint64_t consumed = 0;  // by the reader
  std::uint64_t sent = 0;      // by the console, in the same interval
};

net::awaitable<void> read_slowly(ByteStream& stream, std::chrono::milliseconds how_long,
                                 std::uint64_t& consumed) {
  auto buffer = std::make_unique<char[]>(16 * 1024);
  const auto until = Clock::now() + how_long;
  while (Clock::now() < until) {
    auto [ec, n] = co_await stream.read_some(net::buffer(buffer.get(), 16 * 1024));
    if (ec) co_return;
    consumed += n;
    co_await sleep_for(5ms);
  }
}

net::awaitable<Flow> sample_flow(EchoBackends& backends, const std::uint64_t& consumed,
                                 std::chrono::milliseconds settle,
                                 std::chrono::milliseconds window) {
  co_await sleep_for(settle);
  const std::uint64_t sent_before = backends.flood_sent();
  const std::uint64_t consumed_before = consumed;
  co_await sleep_for(window);
  co_return Flow{consumed - consumed_before, backends.flood_sent() - sent_before};
}

net::awaitable<Flow> slow_reader_of_flood(SshTunnels& tunnels, HostRoute host, ConsolePath path,
                                          EchoBackends& backends) {
  ConnectResult result = co_await tunnels.open(host, path);
  EXPECT_TRUE(result) << result.reason;
  if (!result) co_return Flow{};
  std::uint64_t consumed = 0;
  // void && T yields the T.
  co_return co_await (read_slowly(*result.stream, 2500ms, consumed) &&
                      sample_flow(backends, consumed, 1000ms, 1000ms));
}

TEST_F(SshTunnelsTest, SlowReaderLimitsWhatAFastConsoleCanSend) {
  // The reader takes a few MB/s; the console could send far more. Once the
  // kernel's buffers are full, the console may send only what the reader frees:
  // anything more would have to pile up somewhere in this process (the channel
  // window is what prevents that).
  SshTunnels& t = tunnels();
  const Flow flow =
      run(context_, slow_reader_of_flood(t, host(sshd_->port()),
                                         tcp_console(backends_->flood_port()), *backends_));
  EXPECT_GT(flow.consumed, 0u);
  // What may be in flight: the channel window plus the kernel's socket buffers
  // on both TCP legs (console→sshd, sshd→us), which loopback autotunes to a few
  // MB under load. Without backpressure the flood would be hundreds of MB ahead.
  constexpr std::size_t in_flight_bound = 8 * 1024 * 1024;
  EXPECT_LT(flow.sent, flow.consumed + in_flight_bound)
      << "the console sent " << flow.sent << " bytes while the reader took " << flow.consumed;
}

TEST_F(SshTunnelsTest, ChangedHostKeyIsRefusedAndItsFingerprintLogged) {
  SshTunnels& t = tunnels();
  testing::internal::CaptureStderr();
  ConnectResult result =
      run(context_,
          open_only(t, host(sshd_->port(), client_->private_key, dir_->path("known_hosts_changed")),
                    tcp_console(backends_->tcp_port())));
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(result);
  EXPECT_EQ(result.failure, Failure::host_key_not_trusted);
  EXPECT_EQ(result.reason, "host key not trusted");
  const std::string fingerprint = openssh_fingerprint(host_key_->private_key + ".pub");
  ASSERT_EQ(fingerprint.rfind("SHA256:", 0), 0u) << fingerprint;
  EXPECT_NE(log.find(fingerprint), std::string::npos) << log;
  EXPECT_EQ(t.live_sessions("hv1"), 0u);
}

TEST_F(SshTunnelsTest, UnknownHostIsRefused) {
  SshTunnels& t = tunnels();
  ConnectResult result =
      run(context_,
          open_only(t, host(sshd_->port(), client_->private_key, dir_->path("known_hosts_empty")),
                    tcp_console(backends_->tcp_port())));
  EXPECT_EQ(result.failure, Failure::host_key_not_trusted);
  EXPECT_EQ(result.reason, "host key not trusted");
}

TEST_F(SshTunnelsTest, MissingKnownHostsFileIsRefused) {
  SshTunnels& t = tunnels();
  ConnectResult result =
      run(context_,
          open_only(t, host(sshd_->port(), client_->private_key, dir_->path("no_such_known_hosts")),
                    tcp_console(backends_->tcp_port())));
  EXPECT_EQ(result.failure, Failure::host_key_not_trusted);
  EXPECT_NE(result.reason.find("known_hosts"), std::string::npos) << result.reason;
}

TEST_F(SshTunnelsTest, ClientKeyNotAuthorizedFailsAuthentication) {
  SshTunnels& t = tunnels();
  ConnectResult result = run(context_, open_only(t, host(sshd_->port(), stranger_->private_key),
                                                 tcp_console(backends_->tcp_port())));
  EXPECT_EQ(result.failure, Failure::hypervisor_unreachable);
  EXPECT_NE(result.reason.find("authentication"), std::string::npos) << result.reason;
}

TEST_F(SshTunnelsTest, UnreadableKeyFileFailsAuthentication) {
  SshTunnels& t = tunnels();
  ConnectResult result = run(context_, open_only(t, host(sshd_->port(), dir_->path("no_such_key")),
                                                 tcp_console(backends_->tcp_port())));
  EXPECT_EQ(result.failure, Failure::hypervisor_unreachable);
  EXPECT_NE(result.reason.find("authentication"), std::string::npos) << result.reason;
}

TEST_F(SshTunnelsTest, SshdNotRunningIsReportedPromptly) {
  SshTunnels& t = tunnels();
  const ::cgw::test::ClosedPort no_sshd;
  const auto started = Clock::now();
  ConnectResult result =
      run(context_, open_only(t, host(no_sshd.port()), tcp_console(backends_->tcp_port())));
  EXPECT_LT(Clock::now() - started, 2s);
  EXPECT_EQ(result.failure, Failure::hypervisor_unreachable);
  EXPECT_EQ(result.reason, "SSH connection refused");
}

TEST_F(SshTunnelsTest, ServerThatNeverAnswersTimesOut) {
  SshTunnelOptions options;
  options.connect_timeout = 500ms;
  SshTunnels& t = tunnels(options);
  const auto started = Clock::now();
  ConnectResult result = run(
      context_, open_only(t, host(backends_->silent_port()), tcp_console(backends_->tcp_port())));
  EXPECT_LT(Clock::now() - started, 3s);
  EXPECT_EQ(result.failure, Failure::hypervisor_unreachable);
  EXPECT_EQ(result.reason, "SSH timed out");
}

net::awaitable<void> survive_sshd_restart(SshTunnels& tunnels, HostRoute host, ConsolePath path,
                                          Sshd& sshd) {
  ConnectResult first = co_await tunnels.open(host, path);
  EXPECT_TRUE(first) << first.reason;
  if (!first) co_return;
  expect_echo(co_await greet_and_echo(*first.stream, random_bytes(100000, 3)), 100000);

  sshd.kill_all();
  const auto killed = Clock::now();
  auto buffer = std::make_unique<char[]>(chunk);
  auto [read_error, n] = co_await first.stream->read_some(net::buffer(buffer.get(), chunk));
  EXPECT_TRUE(read_error) << "read " << n << " bytes from a dead session";
  EXPECT_LT(Clock::now() - killed, 3s);
  auto write_error = co_await first.stream->write(net::buffer("x", 1));
  EXPECT_TRUE(write_error);
  EXPECT_EQ(tunnels.live_sessions(host.id), 0u);

  sshd.start();
  ConnectResult second = co_await tunnels.open(host, path);
  EXPECT_TRUE(second) << second.reason;
  if (!second) co_return;
  expect_echo(co_await greet_and_echo(*second.stream, random_bytes(100000, 4)), 100000);
  EXPECT_EQ(tunnels.live_sessions(host.id), 1u);
}

TEST_F(SshTunnelsTest, SshdKilledMidSessionEndsTheStreamAndTheNextOpenReconnects) {
  Sshd own(dir_->dir().string(), free_port(), host_key_->private_key,
           dir_->path("authorized_keys"));
  own.start();
  write_known_hosts("known_hosts_own", *host_key_, own.port());
  SshTunnels& t = tunnels();
  run(context_,
      survive_sshd_restart(t, host(own.port(), client_->private_key, dir_->path("known_hosts_own")),
                           tcp_console(backends_->tcp_port()), own));
}

struct Liveness {
  bool echoed_after_idle = false;
  bool read_ended = false;
  stream::error_code read_error;
  Clock::duration pause_to_end{};
  std::size_t sessions_after = 9;
};

struct PendingRead {
  bool done = false;
  std::string data;
};

net::awaitable<void> read_and_record(ByteStream& stream, std::size_t size, PendingRead& pending) {
  pending.data = co_await read_exactly(stream, size);
  pending.done = true;
}

net::awaitable<Liveness> keepalives_watch_the_server(SshTunnels& tunnels, HostRoute host,
                                                     ConsolePath path, Sshd& sshd) {
  Liveness liveness;
  ConnectResult result = co_await tunnels.open(host, path);
  EXPECT_TRUE(result) << result.reason;
  if (!result) co_return liveness;
  ByteStream& stream = *result.stream;
  EXPECT_EQ(co_await read_exactly(stream, sizeof greeting - 1), greeting);
  auto executor = co_await net::this_coro::executor;

  // Quiet but alive: keepalives go out and come back, nothing ends.
  PendingRead first;
  net::co_spawn(executor, read_and_record(stream, 5, first), net::detached);
  co_await sleep_for(4500ms);
  EXPECT_FALSE(first.done);
  co_await stream.write(net::buffer("hello", 5));
  for (int i = 0; i < 300 && !first.done; ++i) co_await sleep_for(10ms);
  liveness.echoed_after_idle = first.done && first.data == "hello";

  // Hung: the kernel still acknowledges, but no answer comes back.
  PendingRead second;
  net::co_spawn(executor, read_and_record(stream, 1, second), net::detached);
  sshd.pause_all();
  const auto paused = Clock::now();
  for (int i = 0; i < 1200 && !second.done; ++i) co_await sleep_for(10ms);
  liveness.pause_to_end = Clock::now() - paused;
  liveness.read_ended = second.done;
  liveness.sessions_after = tunnels.live_sessions(host.id);
  sshd.resume_all();
  co_return liveness;
}

TEST_F(SshTunnelsTest, KeepalivesKeepAQuietSessionAndDropAHungOne) {
  Sshd own(dir_->dir().string(), free_port(), host_key_->private_key,
           dir_->path("authorized_keys"));
  own.start();
  write_known_hosts("known_hosts_hung", *host_key_, own.port());
  SshTunnelOptions options;
  options.keepalive_interval = 2s;
  SshTunnels& t = tunnels(options);
  const Liveness liveness =
      run(context_, keepalives_watch_the_server(
                        t, host(own.port(), client_->private_key, dir_->path("known_hosts_hung")),
                        tcp_console(backends_->tcp_port()), own));
  EXPECT_TRUE(liveness.echoed_after_idle);
  EXPECT_TRUE(liveness.read_ended) << "a read on a hung server never ended";
  // Two unanswered keepalives at 2 s, plus up to one interval until the first.
  EXPECT_LT(liveness.pause_to_end, 8s);
  EXPECT_EQ(liveness.sessions_after, 0u);
}

net::awaitable<void> refused_channel_leaves_others(SshTunnels& tunnels, HostRoute host,
                                                   std::uint16_t console_port,
                                                   std::string socket_path) {
  ConnectResult good = co_await tunnels.open(host, tcp_console(console_port));
  EXPECT_TRUE(good) << good.reason;
  if (!good) co_return;
  const Exchange before = co_await greet_and_echo(*good.stream, random_bytes(1000, 5));
  expect_echo(before, 1000);

  const ::cgw::test::ClosedPort nothing_there;
  ConnectResult closed_port = co_await tunnels.open(host, tcp_console(nothing_there.port()));
  EXPECT_FALSE(closed_port);
  EXPECT_EQ(closed_port.failure, Failure::console_unreachable);
  EXPECT_EQ(closed_port.reason.rfind("console unreachable through SSH: ", 0), 0u)
      << closed_port.reason;

  ConnectResult no_socket = co_await tunnels.open(host, unix_console(socket_path + ".missing"));
  EXPECT_FALSE(no_socket);
  EXPECT_EQ(no_socket.failure, Failure::console_unreachable);
  EXPECT_EQ(no_socket.reason.rfind("console unreachable through SSH: ", 0), 0u) << no_socket.reason;

  // The first channel goes on as if nothing happened, on the same session.
  const std::string data = random_bytes(1024 * 1024, 6);
  auto [write_error, echoed] =
      co_await (write_all(*good.stream, data) && read_exactly(*good.stream, data.size()));
  EXPECT_FALSE(write_error);
  EXPECT_EQ(checksum(echoed), checksum(data));
  EXPECT_EQ(tunnels.live_sessions(host.id), 1u);
}

TEST_F(SshTunnelsTest, RefusedForwardingEndsOnlyThatChannel) {
  SshTunnels& t = tunnels();
  run(context_, refused_channel_leaves_others(t, host(sshd_->port()), backends_->tcp_port(),
                                              backends_->unix_path()));
}

// What the 50 concurrent consoles report, shared by their coroutines.
struct Crowd {
  int opened = 0;
  int echoed = 0;
  int finished = 0;
  std::vector<std::string> failures;
  bool release = false;
};

net::awaitable<void> crowd_member(SshTunnels& tunnels, HostRoute host, ConsolePath path,
                                  Crowd& crowd, unsigned seed) {
  ConnectResult result = co_await tunnels.open(host, path);
  if (!result) {
    crowd.failures.push_back(result.reason);
    ++crowd.finished;
    co_return;
  }
  ++crowd.opened;
  const std::size_t size = 64 * 1024 + seed;
  const Exchange exchange = co_await greet_and_echo(*result.stream, random_bytes(size, seed));
  if (exchange.greeting == greeting && exchange.received == exchange.sent &&
      exchange.received_size == size) {
    ++crowd.echoed;
  } else {
    crowd.failures.push_back("echo mismatch on console " + std::to_string(seed));
  }
  // Stay open until all are counted, so that they are all open at once.
  while (!crowd.release) co_await sleep_for(10ms);
  ++crowd.finished;
}

struct CrowdReport {
  int opened = 0;
  int echoed = 0;
  std::size_t sessions_while_open = 0;
  int connections_while_open = 0;
  std::vector<std::string> failures;
};

net::awaitable<CrowdReport> crowd_of_fifty(SshTunnels& tunnels, HostRoute host, ConsolePath tcp,
                                           ConsolePath unix_socket, std::uint16_t sshd_port) {
  constexpr int size = 50;
  Crowd crowd;
  auto executor = co_await net::this_coro::executor;
  for (int i = 0; i < size; ++i) {
    net::co_spawn(
        executor,
        crowd_member(tunnels, host, i % 2 ? tcp : unix_socket, crowd, static_cast<unsigned>(i)),
        net::detached);
  }
  while (crowd.echoed + static_cast<int>(crowd.failures.size()) < size) co_await sleep_for(10ms);
  CrowdReport report;
  report.sessions_while_open = tunnels.live_sessions(host.id);
  report.connections_while_open = connections_to(sshd_port);
  crowd.release = true;
  while (crowd.finished < size) co_await sleep_for(10ms);
  report.opened = crowd.opened;
  report.echoed = crowd.echoed;
  report.failures = crowd.failures;
  co_return report;
}

TEST_F(SshTunnelsTest, FiftyConcurrentChannelsShareOneSession) {
  SshTunnels& t = tunnels();
  const CrowdReport report =
      run(context_, crowd_of_fifty(t, host(sshd_->port()), tcp_console(backends_->tcp_port()),
                                   unix_console(backends_->unix_path()), sshd_->port()));
  EXPECT_TRUE(report.failures.empty()) << (report.failures.empty() ? "" : report.failures.front());
  EXPECT_EQ(report.opened, 50);
  EXPECT_EQ(report.echoed, 50);
  EXPECT_EQ(report.sessions_while_open, 1u);
  if (report.connections_while_open >= 0) {
    EXPECT_EQ(report.connections_while_open, 1);
  }
}

net::awaitable<std::size_t> idle_then_reopen(SshTunnels& tunnels, HostRoute host,
                                             ConsolePath path) {
  {
    ConnectResult result = co_await tunnels.open(host, path);
    EXPECT_TRUE(result) << result.reason;
    if (!result) co_return 99;
    expect_echo(co_await greet_and_echo(*result.stream, random_bytes(1000, 8)), 1000);
    EXPECT_EQ(tunnels.live_sessions(host.id), 1u);
  }
  // The stream is gone; the session follows once it has been idle long enough.
  co_await sleep_for(800ms);
  const std::size_t after_idle = tunnels.live_sessions(host.id);
  ConnectResult again = co_await tunnels.open(host, path);
  EXPECT_TRUE(again) << again.reason;
  if (again) expect_echo(co_await greet_and_echo(*again.stream, random_bytes(1000, 9)), 1000);
  co_return after_idle;
}

TEST_F(SshTunnelsTest, SessionClosesWhenIdleAndReconnectsOnDemand) {
  SshTunnelOptions options;
  options.idle_close = 200ms;
  SshTunnels& t = tunnels(options);
  const std::size_t after_idle =
      run(context_, idle_then_reopen(t, host(sshd_->port()), tcp_console(backends_->tcp_port())));
  EXPECT_EQ(after_idle, 0u);
  EXPECT_EQ(t.live_sessions("hv1"), 1u);
}

net::awaitable<stream::error_code> read_after_shutdown(SshTunnels& tunnels, HostRoute host,
                                                       ConsolePath path) {
  ConnectResult result = co_await tunnels.open(host, path);
  EXPECT_TRUE(result) << result.reason;
  if (!result) co_return stream::error_code{};
  expect_echo(co_await greet_and_echo(*result.stream, random_bytes(1000, 10)), 1000);
  tunnels.shutdown();
  auto buffer = std::make_unique<char[]>(chunk);
  auto [ec, n] = co_await result.stream->read_some(net::buffer(buffer.get(), chunk));
  ConnectResult refused = co_await tunnels.open(host, path);
  EXPECT_FALSE(refused);
  co_return ec;
}

TEST_F(SshTunnelsTest, ShutdownEndsOpenStreamsAndLetsTheContextFinish) {
  SshTunnels& t = tunnels();
  const stream::error_code ec = run(
      context_, read_after_shutdown(t, host(sshd_->port()), tcp_console(backends_->tcp_port())));
  EXPECT_TRUE(ec);
  // TearDown checks that the io_context runs out of work.
}

TEST_F(SshTunnelsTest, AgentAuthenticates) {
  if (std::string(CGW_TEST_SSH_AGENT).empty() || std::string(CGW_TEST_SSH_ADD).empty()) {
    GTEST_SKIP() << "ssh-agent not installed";
  }
  const std::string socket = dir_->path("agent.sock");
  const pid_t agent = spawn({CGW_TEST_SSH_AGENT, "-D", "-a", socket}, dir_->path("agent.log"));
  for (int i = 0; i < 500 && ::access(socket.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string added = run_command("SSH_AUTH_SOCK=" + socket + " " + CGW_TEST_SSH_ADD + " " +
                                        client_->private_key + " 2>&1");
  const char* previous = std::getenv("SSH_AUTH_SOCK");
  const std::optional<std::string> saved =
      previous ? std::optional<std::string>(previous) : std::nullopt;
  ::setenv("SSH_AUTH_SOCK", socket.c_str(), 1);

  HostRoute route = host(sshd_->port(), "");
  route.ssh->use_agent = true;
  SshTunnels& t = tunnels();
  const Exchange exchange =
      run(context_, open_and_echo(t, route, tcp_console(backends_->tcp_port()), 4096));
  expect_echo(exchange, 4096);

  if (saved) {
    ::setenv("SSH_AUTH_SOCK", saved->c_str(), 1);
  } else {
    ::unsetenv("SSH_AUTH_SOCK");
  }
  stop_process(agent);
  EXPECT_NE(added.find("Identity added"), std::string::npos) << added;
}

}  // namespace
}  // namespace cgw::tunnel::test
