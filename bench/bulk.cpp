// bulk: many bytes one way over `streams` connections, measured in a window
// that starts after the warm-up, when every buffer on the path is full.
#include "bench/io_pool.hpp"
#include "bench/link.hpp"
#include "bench/rfb.hpp"
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
  std::atomic<std::uint64_t> server{0};   // rfb up: bytes the server said it received
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

net::awaitable<void> open_stream(Stream& stream, Target target, const LinkOptions& options,
                                 bool rfb, bool down) {
  stream.link = co_await open_link(std::move(target), options);
  // A vnc-source starts its updates at the first request, sent here for down.
  if (rfb) co_await rfb::browser_handshake(*stream.link, down);
}

net::awaitable<void> read_loop(Stream& stream, std::size_t size, bool rfb) {
  auto buffer = std::make_unique_for_overwrite<char[]>(size);
  rfb::UpdateChecker updates;
  for (;;) {
    auto [ec, n] = co_await stream.link->read_some(net::buffer(buffer.get(), size));
    if (ec) {
      stream.ended();
      co_return;
    }
    if (rfb && !updates.feed(reinterpret_cast<const std::uint8_t*>(buffer.get()), n)) {
      stream.ended();
      throw std::runtime_error("not a FramebufferUpdate after " +
                               std::to_string(updates.updates()) + " updates");
    }
    add(stream.counted, n);
  }
}

// What one connection writes again and again, and for rfb, where in it each
// FramebufferUpdateRequest ends.
struct Message {
  std::vector<std::uint8_t> bytes;
  std::vector<std::size_t> request_ends;
};

Message make_message(const BulkOptions& options) {
  Message m;
  if (!options.rfb) {
    // Not all one byte, so nothing on the path can shortcut it.
    m.bytes.resize(options.message);
    for (std::size_t i = 0; i < m.bytes.size(); ++i) {
      m.bytes[i] = static_cast<std::uint8_t>(i * 131 + 7);
    }
    return m;
  }
  m.bytes = rfb::client_stream(options.rfb_stream, options.message).bytes;
  rfb::ClientParser parser;
  for (std::size_t i = 0; i < m.bytes.size(); ++i) {
    const std::uint64_t before = parser.counts().update_requests;
    parser.feed(&m.bytes[i], 1);
    if (parser.counts().update_requests != before) m.request_ends.push_back(i + 1);
  }
  if (m.request_ends.empty()) {
    throw UsageError("--message: too small for one FramebufferUpdateRequest");
  }
  return m;
}

// The message by pointer and size: GCC 12 miscompiles this coroutine when it
// takes a net::const_buffer (or a reference to the Message) instead.
net::awaitable<void> write_loop(Stream& stream, const std::uint8_t* data, std::size_t size) {
  const net::const_buffer message(data, size);
  while (!stream.stopping.load(std::memory_order_relaxed)) {
    if (co_await stream.link->write(message)) {
      stream.ended();
      co_return;
    }
    add(stream.sent, message.size());
  }
}

// The sink's acknowledgements: a byte stream of 8-byte little-endian totals,
// or for rfb, ServerCutText records (rfb::ack_message) whose count of
// FramebufferUpdateRequests says how much of the stream was processed.
// Plain code, apart from the coroutine that reads.
class AckReader {
 public:
  AckReader(Stream& stream, const Message& message, bool rfb)
      : stream_(stream), message_(message), rfb_(rfb) {}

  // False at a record that is not an acknowledgement.
  bool feed(const std::uint8_t* data, std::size_t size) {
    const std::size_t record_size = rfb_ ? rfb::ack_size : 8;
    for (std::size_t i = 0; i < size; ++i) {
      record_[filled_++] = data[i];
      if (filled_ < record_size) continue;
      filled_ = 0;
      if (!rfb_) {
        std::uint64_t total = 0;
        for (int b = 7; b >= 0; --b) total = total << 8 | record_[b];
        stream_.counted.store(total, std::memory_order_relaxed);
      } else if (!take_rfb()) {
        return false;
      }
    }
    return true;
  }

 private:
  bool take_rfb() {
    const std::optional<rfb::Ack> ack = rfb::parse_ack(record_);
    if (!ack) return false;
    const std::uint64_t per_message = message_.request_ends.size();
    const std::uint64_t whole = ack->update_requests / per_message;
    const std::uint64_t part = ack->update_requests % per_message;
    stream_.counted.store(
        whole * message_.bytes.size() + (part ? message_.request_ends[part - 1] : 0),
        std::memory_order_relaxed);
    stream_.server.store(ack->bytes, std::memory_order_relaxed);
    return true;
  }

  Stream& stream_;
  const Message& message_;
  const bool rfb_;
  std::array<std::uint8_t, rfb::ack_size> record_{};
  std::size_t filled_ = 0;
};

net::awaitable<void> ack_loop(Stream& stream, std::shared_ptr<AckReader> reader) {
  auto buffer = std::make_unique<std::uint8_t[]>(4096);
  for (;;) {
    auto [ec, n] = co_await stream.link->read_some(net::buffer(buffer.get(), 4096));
    if (ec) {
      stream.ended();
      co_return;
    }
    if (!reader->feed(buffer.get(), n)) {
      stream.ended();
      throw std::runtime_error("the server sent something other than its acknowledgement");
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
    net::co_spawn(pool.context(i),
                  open_stream(*streams[i], options.target, link_options, options.rfb,
                              options.direction == Direction::down),
                  errors.handler(opened));
  }
  if (!opened.wait_for(std::chrono::seconds(15)) || !errors.first().empty()) {
    std::cerr << "cgw-bench bulk: cannot open " << options.target.describe() << ": "
              << (errors.first().empty() ? "timed out" : errors.first()) << "\n";
    std::fflush(nullptr);
    std::_Exit(1);  // a stuck connect leaves nothing worth cleaning up
  }

  const bool up = options.direction == Direction::up;
  const Message message = make_message(options);
  Countdown ended(streams.size() * (up ? 2 : 1));
  for (std::size_t i = 0; i < streams.size(); ++i) {
    auto& ctx = pool.context(i);
    if (up) {
      net::co_spawn(ctx, write_loop(*streams[i], message.bytes.data(), message.bytes.size()),
                    errors.handler(ended));
      net::co_spawn(
          ctx,
          ack_loop(*streams[i], std::make_shared<AckReader>(*streams[i], message, options.rfb)),
          errors.handler(ended));
    } else {
      net::co_spawn(ctx, read_loop(*streams[i], options.read_buffer, options.rfb),
                    errors.handler(ended));
    }
  }

  const auto started = Clock::now();
  std::this_thread::sleep_until(started + options.warmup);
  const auto t0 = Clock::now();
  const std::uint64_t c0 = sum(streams, &Stream::counted);
  const std::uint64_t s0 = sum(streams, &Stream::server);
  const std::uint64_t w0 = sum(streams, &Stream::sent);
  std::this_thread::sleep_until(t0 + options.seconds);
  const auto t1 = Clock::now();
  const std::uint64_t c1 = sum(streams, &Stream::counted);
  const std::uint64_t s1 = sum(streams, &Stream::server);
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
  // rfb up counts what the client wrote: see scenarios.hpp.
  const bool rfb_up = options.rfb && up;
  const std::uint64_t bytes = rfb_up ? sent - w0 : c1 - c0;
  const double mb_per_s = static_cast<double>(bytes) / window / 1e6;
  char line[512];
  std::snprintf(line, sizeof line,
                "bulk target=%s direction=%s streams=%u seconds=%.3f mb_per_s=%.1f bytes=%llu "
                "total_bytes=%llu broken=%zu",
                options.target.describe().c_str(), up ? "up" : "down", options.streams, window,
                mb_per_s, static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(total), broken);
  std::string extra;
  if (options.rfb) {
    extra = std::string(" rfb=") +
            (up ? (options.rfb_stream == rfb::StreamKind::input ? "input" : "viewer") : "updates");
    if (up) {
      char acked[160];
      std::snprintf(
          acked, sizeof acked, " acked_mb_per_s=%.1f server_mb_per_s=%.1f sent_bytes=%llu",
          static_cast<double>(c1 - c0) / window / 1e6, static_cast<double>(s1 - s0) / window / 1e6,
          static_cast<unsigned long long>(sum(streams, &Stream::sent)));
      extra += acked;
    }
  }
  std::cout << line << extra << std::endl;
  if (!errors.first().empty()) std::cerr << "cgw-bench bulk: " << errors.first() << "\n";

  bool sound = bytes > 0;
  if (rfb_up && total == 0 && sent > 0) {
    // A vnc-sink that ends the session at a malformed message breaks the
    // stream; none at all is a late one, held back on the way.
    std::cerr << "cgw-bench bulk: no acknowledgement from the server by the end of the run\n";
  } else if (up && total == 0 && sent > 0) {
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
