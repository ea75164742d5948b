// idle: many consoles open at once with nothing to show, the state a gateway
// spends most of its life in. The script measures the gateway's memory while
// this holds the sessions.
#include "bench/descriptors.hpp"
#include "bench/io_pool.hpp"
#include "bench/link.hpp"
#include "bench/scenarios.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <mutex>

#include <pthread.h>
#include <signal.h>

namespace cgw::bench {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view rfb_greeting = "RFB 003.008\n";

struct Session {
  std::unique_ptr<Link> link;
  net::io_context* context = nullptr;
};

// What all sessions share. Opening workers and hold loops run on the pool's
// threads; the main thread reads the atomics and, once everything is open, the
// session list.
struct Shared {
  explicit Shared(const IdleOptions& o) : options(o), sessions(o.sessions) {}
  const IdleOptions& options;
  std::vector<Session> sessions;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<bool> closing{false};
  std::mutex mutex;
  std::string first_error;

  void fail(const std::string& why) {
    failed.fetch_add(1);
    std::lock_guard lock(mutex);
    if (first_error.empty()) first_error = why;
  }
};

// Reads whatever comes (pings are answered inside the read) until the session
// ends; an end before the close counts as lost.
net::awaitable<void> hold(Shared& shared, Link& link, Countdown& held) {
  char buffer[256];
  for (;;) {
    auto [ec, n] = co_await link.read_some(net::buffer(buffer));
    (void)n;
    if (ec) break;
  }
  if (!shared.closing.load()) shared.lost.fetch_add(1);
  held.done();
}

net::awaitable<void> open_one(Shared& shared, std::uint64_t index, const LinkOptions& link_options,
                              Countdown& held) {
  Session& session = shared.sessions[index];
  session.link = co_await open_link(shared.options.target, link_options);
  std::string greeting(rfb_greeting.size(), '\0');
  std::size_t got = 0;
  while (got < greeting.size()) {
    auto [ec, n] =
        co_await session.link->read_some(net::buffer(greeting.data() + got, greeting.size() - got));
    if (ec) {
      const std::string why = session.link->close_reason();
      throw std::runtime_error("no greeting: " + ec.message() +
                               (why.empty() ? "" : " (" + why + ")"));
    }
    got += n;
  }
  if (greeting != rfb_greeting) throw std::runtime_error("unexpected greeting from the backend");
  shared.opened.fetch_add(1);
  auto executor = co_await net::this_coro::executor;
  net::co_spawn(executor, hold(shared, *session.link, held), net::detached);
}

// Opens sessions until none are left; `parallel` of these run at once.
net::awaitable<void> opener(Shared& shared, net::io_context& context,
                            const LinkOptions& link_options, Countdown& held) {
  for (;;) {
    const std::uint64_t index = shared.next.fetch_add(1);
    if (index >= shared.options.sessions) co_return;
    shared.sessions[index].context = &context;
    try {
      co_await open_one(shared, index, link_options, held);
    } catch (const std::exception& e) {
      shared.fail(error_text(e));
      shared.sessions[index].link.reset();
      held.done();  // this one will never be held
    }
  }
}

}  // namespace

int run_idle(const IdleOptions& options) {
  const std::uint64_t limit = raise_descriptor_limit();
  if (options.sessions + 64 > limit) {
    std::cerr << "cgw-bench idle: " << options.sessions << " sessions need more descriptors than "
              << "RLIMIT_NOFILE allows (" << limit << ")\n";
    return 1;
  }
  // The pool's threads must not take the signals that end the hold.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ssl::context tls = make_client_tls();
  LinkOptions link_options;
  link_options.tls = &tls;
  // The pool outlives the sessions: their sockets belong to its contexts.
  IoPool pool(options.threads);
  Shared shared(options);
  Countdown openers(options.parallel);
  Countdown held(options.sessions);
  pool.start();

  const auto started = Clock::now();
  for (unsigned w = 0; w < options.parallel; ++w) {
    net::io_context& context = pool.context(w);
    net::co_spawn(context, opener(shared, context, link_options, held),
                  [&openers](std::exception_ptr) { openers.done(); });
  }
  const bool all_tried = openers.wait_for(options.open_timeout);
  const double open_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const std::uint64_t opened = shared.opened.load();
  char line[256];
  std::snprintf(line, sizeof line,
                "idle target=%s open=%llu failed=%llu seconds=%.2f rate_per_s=%.0f",
                options.target.describe().c_str(), static_cast<unsigned long long>(opened),
                static_cast<unsigned long long>(shared.failed.load()), open_seconds,
                static_cast<double>(opened) / open_seconds);
  std::cout << line << std::endl;
  if (!shared.first_error.empty()) std::cerr << "cgw-bench idle: " << shared.first_error << "\n";
  if (!all_tried) {
    std::cerr << "cgw-bench idle: sessions still opening after " << options.open_timeout.count()
              << " s\n";
    std::fflush(nullptr);
    std::_Exit(1);
  }

  // Hold until told (or until the hold limit: the run must end by itself).
  timespec timeout{};
  timeout.tv_sec = static_cast<time_t>(options.hold.count());
  const int signal = sigtimedwait(&stop_signals, nullptr, &timeout);

  shared.closing = true;
  for (Session& s : shared.sessions) {
    if (!s.link) continue;
    net::post(*s.context, [link = s.link.get()] { link->close(); });
  }
  const bool closed = held.wait_for(std::chrono::seconds(10));
  std::snprintf(line, sizeof line, "idle closed held=%llu lost=%llu by=%s",
                static_cast<unsigned long long>(opened - shared.lost.load()),
                static_cast<unsigned long long>(shared.lost.load()),
                signal > 0 ? "signal" : "timeout");
  std::cout << line << std::endl;
  if (!closed) {
    std::fflush(nullptr);
    std::_Exit(1);
  }
  pool.stop();
  pool.join();
  return opened == options.sessions && shared.lost.load() == 0 ? 0 : 1;
}

}  // namespace cgw::bench
