// cgw-bench: the load tool of console-gw's benchmark suite (bench/run).
// A subcommand per scenario, plus the backend they run against.
#include "bench/backend.hpp"
#include "bench/options.hpp"
#include "bench/scenarios.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>

#include <csignal>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace cgw::bench;

constexpr const char* usage = R"(usage: cgw-bench <command> [options]

commands:
  backend --port P --mode source|sink|echo|rfb|vnc-source|vnc-sink [--bytes N]
          [--chunk BYTES] [--ack-every BYTES] [--threads N] [--lifetime S] [--listen ADDR]
      A TCP console stand-in. Port 0 picks a free one; it prints
      "backend mode=M port=P" once listening. vnc-source and vnc-sink are VNC
      servers (RFB 3.8, security None) for bulk --rfb down and up.
  bulk    (--url URL | --tcp HOST:PORT) --direction down|up [--streams N] [--seconds S]
          [--warmup S] [--message BYTES] [--threads N] [--tls]
          [--rfb [--rfb-stream viewer|input]]
      down: the backend (source) sends; up: the client sends masked messages and
      the backend (sink) acknowledges. Prints mb_per_s (MB = 10^6 bytes).
      --rfb: the browser's RFB handshake first, against vnc-source (down: checked
      FramebufferUpdates) or vnc-sink (up: RFB client messages, viewer's or
      input; the rate counts the stream's bytes up to the last
      FramebufferUpdateRequest the server acknowledged, server_mb_per_s what
      reached it).
  rtt     (--url URL | --tcp HOST:PORT) [--count N] [--warmup N] [--size BYTES] [--seconds S]
      Round trips through an echo backend, one at a time. Prints p50_us, p99_us.
  idle    (--url URL | --tcp HOST:PORT) --sessions N [--parallel N] [--hold S] [--threads N]
      Opens N sessions to an rfb backend, prints "idle open=N …", holds them
      until SIGINT, SIGTERM or SIGUSR1 (or --hold seconds), then closes them.
  setup   (--url URL | --tcp HOST:PORT) [--concurrency N] [--count N] [--seconds S]
          [--threads N] [--rfb]
      Sessions up to the backend's first byte (--rfb: through the RFB handshake
      to ServerInit, against vnc-source), N at a time. Prints rate_per_s,
      p50_ms, p99_ms.
  port    Prints a free TCP port on 127.0.0.1.

URL is ws://HOST:PORT/PATH?QUERY or wss://…; --tls turns ws:// into wss://.
Each command stops by itself and exits 0 when its run was sound, 1 when not,
2 on a usage error.
)";

BackendOptions::Mode parse_mode(const std::string& text) {
  if (text == "source") return BackendOptions::Mode::source;
  if (text == "sink") return BackendOptions::Mode::sink;
  if (text == "echo") return BackendOptions::Mode::echo;
  if (text == "rfb") return BackendOptions::Mode::rfb;
  if (text == "vnc-source") return BackendOptions::Mode::vnc_source;
  if (text == "vnc-sink") return BackendOptions::Mode::vnc_sink;
  throw UsageError("--mode: must be source, sink, echo, rfb, vnc-source or vnc-sink, got '" + text +
                   "'");
}

[[noreturn]] void unknown(const std::string& flag, const std::string& command) {
  throw UsageError(flag + ": unknown option for " + command + " (see cgw-bench --help)");
}

constexpr std::uint64_t max_u32 = 0xffffffffu;

int backend(Args& args) {
  BackendOptions o;
  bool have_port = false, have_mode = false;
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (flag == "--port") {
      o.port = static_cast<std::uint16_t>(args.number(flag, 0, 65535));
      have_port = true;
    } else if (flag == "--mode") {
      o.mode = parse_mode(args.value(flag));
      have_mode = true;
    } else if (flag == "--bytes") {
      o.bytes = args.number(flag, 0, UINT64_MAX);
    } else if (flag == "--chunk") {
      o.chunk = args.number(flag, 1, 16 << 20);
    } else if (flag == "--ack-every") {
      o.ack_every = args.number(flag, 0, UINT64_MAX);
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(args.number(flag, 1, 64));
    } else if (flag == "--lifetime") {
      o.lifetime = args.seconds(flag);
    } else if (flag == "--listen") {
      o.listen = args.value(flag);
    } else {
      unknown(flag, "backend");
    }
  }
  if (!have_port) throw UsageError("--port is required (0 picks a free one)");
  if (!have_mode) throw UsageError("--mode is required");
  return run_backend(o);
}

int bulk(Args& args) {
  BulkOptions o;
  TargetFlags target;
  bool have_direction = false, have_stream = false;
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (target.take(flag, args)) continue;
    if (flag == "--direction") {
      const std::string d = args.value(flag);
      if (d != "down" && d != "up") throw UsageError("--direction: must be down or up");
      o.direction = d == "up" ? BulkOptions::Direction::up : BulkOptions::Direction::down;
      have_direction = true;
    } else if (flag == "--streams") {
      o.streams = static_cast<unsigned>(args.number(flag, 1, 10000));
    } else if (flag == "--seconds") {
      o.seconds = args.seconds(flag);
    } else if (flag == "--warmup") {
      o.warmup = args.seconds(flag);
    } else if (flag == "--message") {
      o.message = args.number(flag, 1, 16 << 20);
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(args.number(flag, 1, 64));
    } else if (flag == "--rfb") {
      o.rfb = true;
    } else if (flag == "--rfb-stream") {
      const std::string kind = args.value(flag);
      if (kind != "viewer" && kind != "input") {
        throw UsageError("--rfb-stream: must be viewer or input, got '" + kind + "'");
      }
      o.rfb_stream = kind == "input" ? rfb::StreamKind::input : rfb::StreamKind::viewer;
      have_stream = true;
    } else {
      unknown(flag, "bulk");
    }
  }
  if (!have_direction) throw UsageError("--direction is required");
  if (have_stream && !(o.rfb && o.direction == BulkOptions::Direction::up)) {
    throw UsageError("--rfb-stream: only with --rfb --direction up");
  }
  if (o.seconds.count() <= 0) throw UsageError("--seconds: must be more than 0");
  o.target = target.finish();
  return run_bulk(o);
}

int rtt(Args& args) {
  RttOptions o;
  TargetFlags target;
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (target.take(flag, args)) continue;
    if (flag == "--count") {
      o.count = args.number(flag, 1, 100'000'000);
    } else if (flag == "--warmup") {
      o.warmup = args.number(flag, 0, 100'000'000);
    } else if (flag == "--size") {
      o.size = args.number(flag, 1, 1 << 20);
    } else if (flag == "--seconds") {
      o.max_seconds = args.seconds(flag);
    } else {
      unknown(flag, "rtt");
    }
  }
  o.target = target.finish();
  return run_rtt(o);
}

int idle(Args& args) {
  IdleOptions o;
  TargetFlags target;
  bool have_sessions = false;
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (target.take(flag, args)) continue;
    if (flag == "--sessions") {
      o.sessions = args.number(flag, 1, 1'000'000);
      have_sessions = true;
    } else if (flag == "--parallel") {
      o.parallel = static_cast<unsigned>(args.number(flag, 1, 10000));
    } else if (flag == "--hold") {
      o.hold = args.seconds(flag);
    } else if (flag == "--open-timeout") {
      o.open_timeout = args.seconds(flag);
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(args.number(flag, 1, 64));
    } else {
      unknown(flag, "idle");
    }
  }
  if (!have_sessions) throw UsageError("--sessions is required");
  o.target = target.finish();
  return run_idle(o);
}

int setup(Args& args) {
  SetupOptions o;
  TargetFlags target;
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (target.take(flag, args)) continue;
    if (flag == "--concurrency") {
      o.concurrency = static_cast<unsigned>(args.number(flag, 1, 10000));
    } else if (flag == "--count") {
      o.count = args.number(flag, 1, 100'000'000);
    } else if (flag == "--seconds") {
      o.max_seconds = args.seconds(flag);
    } else if (flag == "--threads") {
      o.threads = static_cast<unsigned>(args.number(flag, 1, 64));
    } else if (flag == "--rfb") {
      o.rfb = true;
    } else {
      unknown(flag, "setup");
    }
  }
  o.target = target.finish();
  return run_setup(o);
}

int free_port() {
  boost::asio::io_context ioc;
  using tcp = boost::asio::ip::tcp;
  tcp::acceptor acceptor(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  std::cout << acceptor.local_endpoint().port() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> argv_list(argv, argv + argc);
  if (argc < 2 || argv_list[1] == "--help" || argv_list[1] == "-h" || argv_list[1] == "help") {
    std::cout << usage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv_list[1];
  Args args(argv_list, 2);
  try {
    if (command == "backend") return backend(args);
    if (command == "bulk") return bulk(args);
    if (command == "rtt") return rtt(args);
    if (command == "idle") return idle(args);
    if (command == "setup") return setup(args);
    if (command == "port") return free_port();
    throw UsageError("unknown command '" + command + "' (see cgw-bench --help)");
  } catch (const UsageError& e) {
    std::cerr << "cgw-bench: " << e.what() << "\n";
    return 2;
  } catch (const boost::system::system_error& e) {
    std::cerr << "cgw-bench " << command << ": " << e.code().message() << "\n";
    return 1;
  }
}
