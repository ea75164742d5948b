// bulk: many bytes one way over `streams` connections, measured in a window
// that starts after the warm-up, when every buffer on the path is full.
#include "bench/io_pool.hpp"
#include "bench/link.hpp"
#include "bench/scenarios.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cgw::bench {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace {

using Clock = std::chrono::steady_clock;
using Direction = BulkOptions::Direction;

// One connection. Its thread writes the counters; the main thread reads them.
struct Stream {
  std::unique_ptr<Link> link;
  std::atomic<std::uint64_t> counted{0};  // down: bytes read; up: bytes the backend acknowledged
  std::atomic<std::uint64_t> sent{0};     // up: bytes written
  std::atomic<bool> stopping{false};
  std::atomic<bool> broke{false};  // a loop ended before the run did

  void ended() {
    if (!stopping.load(std::memory_order_relaxed)) broke = true;
  }
};

// Only the stream's own thread writes its counters, so a relaxed load and store
// will do; the main thread only reads them.
void add(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

net::awaitable<void> open_stream(Stream& stream, Target target, const LinkOptions& options) {
  stream.link = co_await open_link(std::move(target), options);
}

net::awaitable<void> read_loop(Stream& stream, std::size_t size) {
  auto buffer = std::make_unique_for_overwrite<char[]>(size);
  for (;;) {
    auto [ec, n] = co_await stream.link->read_some(net::buffer(buffer.get(), size));
    if (ec) {
      stream.ended();
      co_return;
    }
    add(stream.counted, n);
  }
}

net::awaitable<void> write_loop(Stream& stream, std::size_t size) {
  // Not all one byte, so nothing on the path can shortcut it.
  std::vector<char> message(size);
  for (std::size_t i = 0; i < size; ++i) message[i] = static_cast<char>(i * 131 + 7);
  while (!stream.stopping.load(std::memory_order_relaxed)) {
    if (co_await stream.link->write(net::buffer(message))) {
      stream.ended();
      co_return;
    }
    add(stream.sent, size);
  }
}

// The sink's acknowledgements: a byte stream of 8-byte little-endian totals.
net::awaitable<void> ack_loop(Stream& stream) {
  std::array<unsigned char, 4096> buffer{};
  std::array<unsigned char, 8> record{};
  std::size_t filled = 0;
  for (;;) {
    auto [ec, n] = co_await stream.link->read_some(net::buffer(buffer));
    if (ec) {
      stream.ended();
      co_return;
    }
    for (std::size_t i = 0; i < n; ++i) {
      record[filled++] = buffer[i];
      if (filled < record.size()) continue;
      std::uint64_t total = 0;
      for (int b = 7; b >= 0; --b) total = total << 8 | record[b];
      stream.counted.store(total, std::memory_order_relaxed);
      filled = 0;
    }
  }
}

std::uint64_t sum(const std::vector<std::unique_ptr<Stream>>& streams,
                  std::atomic<std::uint64_t> Stream::*counter) {
  std::uint64_t total = 0;
  for (const auto& s : streams) total += ((*s).*counter).load(std::memory_order_relaxed);
  return total;
}

// Collects the first error any coroutine ended with.
class Errors {
 public:
  auto handler(Countdown& countdown) {
    return [this, &countdown](std::exception_ptr e) {
      if (e) record(e);
      countdown.done();
    };
  }
  std::string first() {
    std::lock_guard lock(mutex_);
    return first_;
  }

 private:
  void record(std::exception_ptr e) {
    std::string what;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = error_text(ex);
    }
    std::lock_guard lock(mutex_);
    if (first_.empty()) first_ = what;
  }
  std::mutex mutex_;
  std::string first_;
};

}  // namespace

int run_bulk(const BulkOptions& options) {
  ssl::context tls = make_client_tls();
  LinkOptions link_options;
  link_options.tls = &tls;
  link_options.frame_bytes = options.message;

  IoPool pool(options.threads);
  pool.start();
  std::vector<std::unique_ptr<Stream>> streams;
  for (unsigned i = 0; i < options.streams; ++i) streams.push_back(std::make_unique<Stream>());

  Errors errors;
  Countdown opened(streams.size());
  for (std::size_t i = 0; i < streams.size(); ++i) {
    net::co_spawn(pool.context(i), open_stream(*streams[i], options.target, link_options),
                  errors.handler(opened));
  }
  if (!opened.wait_for(std::chrono::seconds(15)) || !errors.first().empty()) {
    std::cerr << "cgw-bench bulk: cannot open " << options.target.describe() << ": "
              << (errors.first().empty() ? "timed out" : errors.first()) << "\n";
    std::fflush(nullptr);
    std::_Exit(1);  // a stuck connect leaves nothing worth cleaning up
  }

  const bool up = options.direction == Direction::up;
  Countdown ended(streams.size() * (up ? 2 : 1));
  for (std::size_t i = 0; i < streams.size(); ++i) {
    auto& ctx = pool.context(i);
    if (up) {
      net::co_spawn(ctx, write_loop(*streams[i], options.message), errors.handler(ended));
      net::co_spawn(ctx, ack_loop(*streams[i]), errors.handler(ended));
    } else {
      net::co_spawn(ctx, read_loop(*streams[i], options.read_buffer), errors.handler(ended));
    }
  }

  const auto started = Clock::now();
  std::this_thread::sleep_until(started + options.warmup);
  const auto t0 = Clock::now();
  const std::uint64_t c0 = sum(streams, &Stream::counted);
  std::this_thread::sleep_until(t0 + options.seconds);
  const auto t1 = Clock::now();
  const std::uint64_t c1 = sum(streams, &Stream::counted);
  const std::uint64_t sent = sum(streams, &Stream::sent);
  std::size_t broken = 0;
  for (const auto& s : streams) broken += s->broke ? 1 : 0;

  for (std::size_t i = 0; i < streams.size(); ++i) {
    Stream& s = *streams[i];
    s.stopping = true;
    net::post(pool.context(i), [&s] { s.link->close(); });
  }
  const bool clean = ended.wait_for(std::chrono::seconds(5));
  const std::uint64_t total = sum(streams, &Stream::counted);

  const double window = std::chrono::duration<double>(t1 - t0).count();
  const std::uint64_t bytes = c1 - c0;
  const double mb_per_s = static_cast<double>(bytes) / window / 1e6;
  char line[512];
  std::snprintf(line, sizeof line,
                "bulk target=%s direction=%s streams=%u seconds=%.3f mb_per_s=%.1f bytes=%llu "
                "total_bytes=%llu broken=%zu",
                options.target.describe().c_str(), up ? "up" : "down", options.streams, window,
                mb_per_s, static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(total), broken);
  std::cout << line << std::endl;

  bool sound = bytes > 0;
  if (up && total == 0 && sent > 0) {
    std::cerr << "cgw-bench bulk: no acknowledgements from the backend (is it in sink mode?)\n";
    sound = false;
  }
  if (bytes == 0) std::cerr << "cgw-bench bulk: no data moved in the window\n";
  if (broken > 0) {
    std::cerr << "cgw-bench bulk: " << broken << " stream(s) ended before the run did\n";
    sound = false;
  }
  if (!clean) {
    // A stream that will not end is not worth waiting for; the numbers are out.
    std::fflush(nullptr);
    std::_Exit(sound ? 0 : 1);
  }
  pool.stop();
  pool.join();
  return sound ? 0 : 1;
}

}  // namespace cgw::bench
