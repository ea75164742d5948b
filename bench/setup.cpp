// setup: what a user waits for between clicking "console" and the first byte of
// the VNC greeting: connect, TLS, upgrade, token, libvirt lookup, backend
// connect. `concurrency` users at once, each starting the next session as soon
// as one is done.
#include "bench/io_pool.hpp"
#include "bench/link.hpp"
#include "bench/scenarios.hpp"
#include "bench/stats.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <mutex>

namespace cgw::bench {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace {

using Clock = std::chrono::steady_clock;
using namespace net::experimental::awaitable_operators;

struct Shared {
  explicit Shared(const SetupOptions& o) : options(o) {}
  const SetupOptions& options;
  Clock::time_point deadline;
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> failed{0};
  std::mutex mutex;
  std::vector<double> millis;  // merged from the workers at their end
  std::string first_error;

  void fail(const std::string& why) {
    failed.fetch_add(1);
    std::lock_guard lock(mutex);
    if (first_error.empty()) first_error = why;
  }
};

// One session up to its first byte from the backend, or through the RFB
// handshake; throws on any failure.
net::awaitable<std::unique_ptr<Link>> first_byte(Target target, const LinkOptions& link_options,
                                                 bool rfb) {
  std::unique_ptr<Link> link = co_await open_link(std::move(target), link_options);
  if (rfb) {
    co_await rfb::browser_handshake(*link, false);
    co_return link;
  }
  char byte[64];
  auto [ec, n] = co_await link->read_some(net::buffer(byte));
  (void)n;
  if (ec) {
    const std::string why = link->close_reason();
    throw std::runtime_error("no first byte: " + ec.message() +
                             (why.empty() ? "" : " (" + why + ")"));
  }
  co_return link;
}

net::awaitable<void> worker(Shared& shared, const LinkOptions& link_options) {
  auto executor = co_await net::this_coro::executor;
  net::steady_timer timer(executor);
  std::vector<double> millis;
  for (;;) {
    if (Clock::now() >= shared.deadline) break;
    if (shared.next.fetch_add(1) >= shared.options.count) break;
    const auto t0 = Clock::now();
    timer.expires_at(t0 +
                     std::chrono::duration_cast<Clock::duration>(shared.options.session_timeout));
    try {
      auto result = co_await (first_byte(shared.options.target, link_options, shared.options.rfb) ||
                              timer.async_wait(net::use_awaitable));
      const auto t1 = Clock::now();
      if (result.index() == 1) {
        shared.fail("timed out");
        continue;
      }
      millis.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      // Gone at once, as a closed browser tab is; the gateway sees the end.
      std::get<0>(result)->close();
    } catch (const std::exception& e) {
      shared.fail(error_text(e));
    }
  }
  std::lock_guard lock(shared.mutex);
  shared.millis.insert(shared.millis.end(), millis.begin(), millis.end());
}

}  // namespace

int run_setup(const SetupOptions& options) {
  ssl::context tls = make_client_tls();
  LinkOptions link_options;
  link_options.tls = &tls;
  Shared shared(options);
  Countdown workers(options.concurrency);
  IoPool pool(options.threads);
  pool.start();

  const auto started = Clock::now();
  shared.deadline = started + std::chrono::duration_cast<Clock::duration>(options.max_seconds);
  for (unsigned w = 0; w < options.concurrency; ++w) {
    net::co_spawn(pool.context(w), worker(shared, link_options),
                  [&workers](std::exception_ptr) { workers.done(); });
  }
  const bool finished =
      workers.wait_for(options.max_seconds + options.session_timeout + std::chrono::seconds(5));
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();

  std::lock_guard lock(shared.mutex);
  std::vector<double>& ms = shared.millis;
  const std::size_t n = ms.size();
  const double p50 = percentile(ms, 50), p99 = percentile(ms, 99);
  char line[512];
  std::snprintf(line, sizeof line,
                "setup target=%s concurrency=%u count=%zu failed=%llu seconds=%.2f "
                "rate_per_s=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f",
                options.target.describe().c_str(), options.concurrency, n,
                static_cast<unsigned long long>(shared.failed.load()), seconds,
                static_cast<double>(n) / seconds, p50, p99, n ? ms.back() : 0.0);
  std::cout << line << std::endl;
  if (!shared.first_error.empty()) std::cerr << "cgw-bench setup: " << shared.first_error << "\n";
  if (!finished) {
    std::fflush(nullptr);
    std::_Exit(1);
  }
  pool.stop();
  pool.join();
  return n > 0 && shared.failed.load() == 0 ? 0 : 1;
}

}  // namespace cgw::bench
