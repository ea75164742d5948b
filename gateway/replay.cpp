#include "gateway/replay.hpp"

#include "common/log.hpp"
#include "gateway/authorize.hpp"
#include "gateway/recording.hpp"
#include "gateway/responses.hpp"
#include "gateway/static_files.hpp"
#include "websocket/handshake.hpp"
#include "websocket/plain_socket.hpp"
#include "websocket/ws_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <csignal>
#include <iostream>
#include <memory>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ws = websocket::BasicWsStream<websocket::PlainSocket>;

constexpr log::Logger logger{"replay"};
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// What every connection shares: the recording, read once, and how to show it.
struct Replay {
  RecordingFile recording;
  double speed = 1.0;
  std::optional<StaticFiles> novnc;
  std::string title;
};

// One browser's WebSocket: the frames go out on the timer while the browser's
// messages are read and dropped; `gone` once the browser left.
struct Player {
  explicit Player(tcp::socket socket)
      : timer(socket.get_executor()), ws(websocket::PlainSocket(std::move(socket))) {}
  net::steady_timer timer;
  Ws ws;
  bool gone = false;
};

net::awaitable<void> drop_input(std::shared_ptr<Player> player) {
  std::array<char, 4096> buf{};
  // The WebSocket's read_some does not wait (it completes with 0 bytes when
  // nothing came): wait for data first, as the pump does.
  for (;;) {
    if (co_await player->ws.wait_readable()) break;
    auto [ec, n] = co_await player->ws.read_some(net::buffer(buf));
    if (ec) break;
  }
  player->gone = true;
  player->timer.cancel();
}

Clock::duration scaled(std::uint32_t t_ms, double speed) {
  return std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(t_ms / speed));
}

net::awaitable<void> play(std::shared_ptr<Player> player, std::shared_ptr<const Replay> replay) {
  net::co_spawn(player->timer.get_executor(), drop_input(player), net::detached);
  const auto start = Clock::now();
  std::uint64_t sent = 0;
  for (const RecordedFrame& frame : replay->recording.frames) {
    if (frame.direction != RecordedDirection::to_browser) continue;
    player->timer.expires_at(start + scaled(frame.t_ms, replay->speed));
    co_await player->timer.async_wait(use_tuple);
    if (player->gone) co_return;
    if (co_await player->ws.write(net::buffer(frame.bytes))) co_return;
    sent += frame.bytes.size();
  }
  logger.info("replay finished: ", sent,
              " bytes sent; the last picture stays until the page closes");
  player->timer.expires_at(Clock::time_point::max());
  co_await player->timer.async_wait(use_tuple);
  player->ws.abort();
}

template <class Response>
net::awaitable<bool> send(beast::tcp_stream& stream, const Request& req, Response& res) {
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  co_return !ec && req.keep_alive() && res.keep_alive();
}

Decision replay_decision(const Replay& replay) {
  Decision d;
  d.target.emplace();
  d.target->console = ConsoleKind::vnc;
  d.target->view_only = true;
  d.domain_name = replay.title;
  return d;
}

net::awaitable<bool> send_novnc_file(beast::tcp_stream& stream, const Request& req,
                                     const Replay& replay, std::string_view path) {
  std::optional<std::filesystem::path> file;
  if (replay.novnc) file = replay.novnc->resolve(path);
  http::file_body::value_type body;
  beast::error_code open_error;
  if (file) body.open(file->c_str(), beast::file_mode::scan, open_error);
  if (!file || open_error) {
    auto res = text_response(req, http::status::not_found, "not found");
    co_return co_await send(stream, req, res);
  }
  http::response<http::file_body> res{file_header(req, StaticFiles::content_type(*file)),
                                      std::move(body)};
  res.content_length(res.body().size());
  res.keep_alive(req.keep_alive());
  co_return co_await send(stream, req, res);
}

net::awaitable<void> serve_connection(tcp::socket socket, std::shared_ptr<const Replay> replay) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    auto [read_error, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (read_error) co_return;
    Request req = parser.release();
    std::string_view path = req.target();
    path = path.substr(0, path.find('?'));
    if (beast::websocket::is_upgrade(req)) {
      if (auto refused = websocket::handshake_refusal(req)) {
        co_await http::async_write(stream, *refused, use_tuple);
        co_return;
      }
      auto res = websocket::switching_protocols(req);
      auto [write_error, written] = co_await http::async_write(stream, res, use_tuple);
      if (write_error) co_return;
      logger.info("a browser connected: replaying ", replay->recording.frames.size(), " frames");
      co_await play(std::make_shared<Player>(stream.release_socket()), replay);
      co_return;
    }
    bool keep = false;
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      auto res = text_response(req, http::status::method_not_allowed, "method not allowed");
      res.keep_alive(false);
      keep = co_await send(stream, req, res);
    } else if (path == "/" || path == "/console") {
      auto res = console_page_response(req, replay_decision(*replay), "");
      keep = co_await send(stream, req, res);
    } else if (path.starts_with("/novnc/")) {
      keep = co_await send_novnc_file(stream, req, *replay, path.substr(7));
    } else if (path == "/favicon.ico") {
      auto res = no_content_response(req);
      keep = co_await send(stream, req, res);
    } else {
      auto res = text_response(req, http::status::not_found, "not found");
      keep = co_await send(stream, req, res);
    }
    if (!keep) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::shared_ptr<const Replay> replay) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == net::error::operation_aborted) co_return;
    if (ec) continue;
    net::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket), replay),
                  net::detached);
  }
}

std::string host_for_url(const net::ip::address& address) {
  if (address.is_unspecified()) return "127.0.0.1";
  return address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
}

}  // namespace

int run_replay(const ReplayCommand& command) {
  auto replay = std::make_shared<Replay>();
  try {
    replay->recording = read_recording(command.file);
  } catch (const ConfigError& e) {
    std::cerr << "console-gw replay: " << e.what() << "\n";
    return 2;
  }
  const RecordingHeader& header = replay->recording.header;
  if (header.console != "vnc") {
    std::cerr << "console-gw replay: " << command.file << ": a " << header.console
              << " console's recording; replay shows VNC recordings only\n";
    return 2;
  }
  if (replay->recording.truncated) {
    logger.warn(command.file, ": its last frame is cut short; replaying the frames before it");
  }
  replay->speed = command.speed;
  replay->title = "Replay: " + (header.domain_name.empty() ? header.uuid : header.domain_name);
  if (std::filesystem::is_directory(command.novnc_dir)) {
    replay->novnc.emplace(command.novnc_dir,
                          std::vector<std::filesystem::path>{"/usr/share/javascript"});
  } else {
    std::cerr << "console-gw replay: --novnc-dir: " << command.novnc_dir
              << " is not a directory (Debian's novnc package installs /usr/share/novnc)\n";
    return 2;
  }

  net::io_context ioc(1);
  beast::error_code ec;
  const auto address = net::ip::make_address(command.listen, ec);
  if (ec) {
    std::cerr << "console-gw replay: --listen: not an IP address: '" << command.listen << "'\n";
    return 2;
  }
  tcp::acceptor acceptor(ioc);
  const tcp::endpoint endpoint(address, command.port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::cerr << "console-gw replay: cannot listen on " << command.listen << ":" << command.port
              << ": " << ec.message() << "\n";
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);
  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code&, int) { ioc.stop(); });
  net::co_spawn(ioc, accept_loop(acceptor, replay), net::detached);

  std::uint32_t last_ms = 0;
  for (const auto& frame : replay->recording.frames) last_ms = frame.t_ms;
  std::cout << "replaying " << command.file << " (session " << header.session << ", host "
            << header.host << ", domain " << header.uuid << ", " << last_ms / 1000.0 << " s) at "
            << command.speed << "x: open http://" << host_for_url(address) << ":"
            << acceptor.local_endpoint().port() << "/console" << std::endl;
  ioc.run();
  return 0;
}

}  // namespace cgw::gateway
