// rtt: one message out, the same bytes back, then the next: the latency a
// keystroke sees, without any queueing behind it.
#include "bench/link.hpp"
#include "bench/scenarios.hpp"
#include "bench/stats.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdio>
#include <cstring>
#include <iostream>

namespace cgw::bench {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace {

using Clock = std::chrono::steady_clock;

struct RttResult {
  std::vector<double> micros;
  std::string error;
};

// Returns an empty string, or why the round trip failed.
net::awaitable<std::string> round_trip(Link& link, std::vector<char>& out, std::vector<char>& in) {
  if (error_code ec = co_await link.write(net::buffer(out))) co_return "write: " + ec.message();
  std::size_t got = 0;
  while (got < in.size()) {
    auto [ec, n] = co_await link.read_some(net::buffer(in.data() + got, in.size() - got));
    if (ec) {
      const std::string why = link.close_reason();
      co_return "read: " + ec.message() + (why.empty() ? "" : " (" + why + ")");
    }
    got += n;
  }
  if (std::memcmp(in.data(), out.data(), out.size()) != 0) co_return "echo returned other bytes";
  co_return std::string();
}

net::awaitable<void> measure(const RttOptions& options, const LinkOptions& link_options,
                             RttResult& result, Clock::time_point deadline,
                             std::unique_ptr<Link>& link) {
  link = co_await open_link(options.target, link_options);
  std::vector<char> out(options.size), in(options.size);
  result.micros.reserve(options.count);
  for (std::uint64_t i = 0; i < options.warmup + options.count; ++i) {
    // Each message differs, so a stale echo cannot pass for a fresh one.
    for (std::size_t b = 0; b < out.size(); ++b) out[b] = static_cast<char>(i + b);
    const auto t0 = Clock::now();
    std::string error = co_await round_trip(*link, out, in);
    const auto t1 = Clock::now();
    if (!error.empty()) {
      result.error = error;
      break;
    }
    if (i >= options.warmup) {
      result.micros.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    if (t1 >= deadline) break;
  }
  link->close();
}

}  // namespace

int run_rtt(const RttOptions& options) {
  ssl::context tls = make_client_tls();
  LinkOptions link_options;
  link_options.tls = &tls;
  net::io_context ioc(1);
  RttResult result;
  std::unique_ptr<Link> link;
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(options.max_seconds);
  // A stuck peer must not hold the run: past the deadline plus a grace, the
  // link is closed and the pending read fails.
  net::steady_timer watchdog(ioc);
  watchdog.expires_at(deadline + std::chrono::seconds(5));
  watchdog.async_wait([&](const error_code& ec) {
    if (ec) return;
    if (result.error.empty()) result.error = "timed out";
    if (link) link->close();
  });
  net::co_spawn(ioc, measure(options, link_options, result, deadline, link),
                [&](std::exception_ptr e) {
                  watchdog.cancel();
                  if (!e) return;
                  try {
                    std::rethrow_exception(e);
                  } catch (const std::exception& ex) {
                    result.error = error_text(ex);
                  }
                });
  ioc.run();

  std::vector<double>& us = result.micros;
  const std::size_t n = us.size();
  double mean = 0;
  for (double v : us) mean += v;
  if (n) mean /= static_cast<double>(n);
  const double p50 = percentile(us, 50), p99 = percentile(us, 99), p999 = percentile(us, 99.9);
  char line[512];
  std::snprintf(line, sizeof line,
                "rtt target=%s size=%zu count=%zu p50_us=%.1f p99_us=%.1f p999_us=%.1f "
                "mean_us=%.1f min_us=%.1f max_us=%.1f",
                options.target.describe().c_str(), options.size, n, p50, p99, p999, mean,
                n ? us.front() : 0.0, n ? us.back() : 0.0);
  std::cout << line << std::endl;
  if (!result.error.empty()) std::cerr << "cgw-bench rtt: " << result.error << "\n";
  return n > 0 && result.error.empty() ? 0 : 1;
}

}  // namespace cgw::bench
