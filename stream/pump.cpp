#include "stream/pump.hpp"

#include "stream/buffer_pool.hpp"
#include "stream/ticker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>

namespace cgw::stream {

namespace net = boost::asio;
namespace {

using Ender = PumpResult::Ender;

// How far one direction's writes have got, for the watchdog: a count of writes
// begun and whether one is in flight (two stores per write; no timer per write).
struct WriteProgress {
  std::uint32_t writes = 0;
  std::uint32_t seen = 0;  // `writes` at the watchdog's last tick
  bool writing = false;
  unsigned char stuck_ticks = 0;  // ticks that found the same write in flight
};

// Why the watchdog ended the session, for end_session to report rather than the
// error its aborting caused.
// Two bytes: it sits in every idle session's frame.
struct Cut {
  enum class Why : std::uint8_t {
    stalled,   // a write made no progress
    gave_up,   // the client stream ended itself (its heartbeat gave up)
    idle,      // idle_timeout
    too_long,  // max_length
  };
  Ender ender;
  Why why;

  bool stalled() const { return why == Why::stalled; }
  // The session limit that ended it, told to the client; null for the others.
  const EndReason* limit(const PumpOptions& o) const {
    return why == Why::idle ? &o.idle : why == Why::too_long ? &o.too_long : nullptr;
  }
  error_code error() const {
    switch (why) {
      case Why::stalled:
        return stalled_error();
      case Why::gave_up:
        break;
      case Why::idle:
        return idle_error();
      case Why::too_long:
        return too_long_error();
    }
    return boost::asio::error::timed_out;
  }
};

// How many ticks of `period` make at least `limit`.
unsigned ticks_for(std::chrono::milliseconds limit, std::chrono::milliseconds period) {
  if (limit.count() <= 0) return 0;
  return static_cast<unsigned>(
      std::max<std::int64_t>(1, (limit.count() + period.count() - 1) / period.count()));
}

// The watchdog's tick: half the write timeout, a quarter of the idle and
// length limits, whichever is shortest of those in use (zero: none is).
std::chrono::milliseconds tick_period(const PumpOptions& o) {
  std::chrono::milliseconds period{0};
  const auto consider = [&period](std::chrono::milliseconds p) {
    if (p.count() <= 0) return;
    p = std::max(p, std::chrono::milliseconds(1));
    if (period.count() == 0 || p < period) period = p;
  };
  consider(o.write_timeout / 2);
  consider(o.idle_timeout / 4);
  consider(o.max_length / 4);
  return period;
}

// What both directions share. Both run on the caller's executor, one at a time,
// so plain fields do; the watchdog ticks on that thread too.
struct PumpState final : TickerMember {
  // A constructor, not brace-initialisation: GCC 12 mis-destroys aggregates
  // initialised with temporaries inside a coroutine frame.
  PumpState(ByteStream& c, ByteStream& k, const PumpOptions& o, ConsoleEndReason* w)
      : client(c), console(k), options(o), why_ended(w) {}
  ~PumpState() override { leave(); }

  void watch(const net::any_io_executor& executor) {
    const std::chrono::milliseconds period = tick_period(options);
    if (period.count() == 0) return;
    stuck_ticks_needed = std::max(2u, ticks_for(options.write_timeout, period));
    idle_ticks_needed = ticks_for(options.idle_timeout, period);
    length_ticks_needed = ticks_for(options.max_length, period);
    join(executor, period);
  }

  // Every tick (half write_timeout, or less when a session limit needs it): a
  // write that was in flight at stuck_ticks_needed ticks in a row with nothing
  // written in between has taken at least write_timeout. Then the limits.
  void on_tick() override {
    if (!ending && !client.is_open()) {
      // The client stream gave up on its peer (the browser's heartbeat went
      // unanswered) while no operation of ours waited on it to fail: the other
      // direction may be stuck writing to a console that stopped reading.
      cut_session(Cut{Ender::client, Cut::Why::gave_up});
      return;
    }
    const bool upstream_stuck = options.write_timeout.count() > 0 && stuck(upstream);
    const bool downstream_stuck = options.write_timeout.count() > 0 && stuck(downstream);
    if (!upstream_stuck && !downstream_stuck) {
      if (!ending) check_limits();
      return;
    }
    if (ending) {
      // Already ending and still stuck (a close frame to a browser that reads
      // nothing): let go of both.
      client.abort();
      console.abort();
    } else if (upstream_stuck) {
      // The console stopped reading. Its stuck write fails, and end_session
      // tells the client why (options.console_stalled).
      cut_session(Cut{Ender::console, Cut::Why::stalled});
    } else {
      cut_session(Cut{Ender::client, Cut::Why::stalled});
    }
  }

  bool stuck(WriteProgress& p) {
    if (!p.writing || p.writes != p.seen) {
      p.seen = p.writes;
      p.stuck_ticks = 0;
      return false;
    }
    if (p.stuck_ticks < stuck_ticks_needed) ++p.stuck_ticks;
    return p.stuck_ticks >= stuck_ticks_needed;
  }

  // The session limits, counted in ticks: no clock read, nothing per byte.
  void check_limits() {
    ++ticks;
    if (length_ticks_needed != 0 && ticks >= length_ticks_needed) {
      cut_session(Cut{Ender::console, Cut::Why::too_long});
      return;
    }
    if (idle_ticks_needed == 0) return;
    const std::uint64_t writes = std::uint64_t{upstream.writes} + downstream.writes;
    if (writes != writes_seen) {
      writes_seen = writes;
      idle_ticks = 0;
      return;
    }
    if (++idle_ticks >= idle_ticks_needed) {
      cut_session(Cut{Ender::console, Cut::Why::idle});
    }
  }

  void cut_session(Cut why) {
    cut = why;
    console.abort();
    if (why.ender == Ender::client) client.abort();
  }

  WriteProgress& progress(Ender from_side) {
    return from_side == Ender::client ? upstream : downstream;
  }

  ByteStream& client;
  ByteStream& console;
  const PumpOptions& options;  // the caller's, shared by many sessions
  ConsoleEndReason* why_ended;
  PumpResult result;
  WriteProgress upstream;    // client → console
  WriteProgress downstream;  // console → client
  std::optional<Cut> cut;
  unsigned stuck_ticks_needed = 2;
  unsigned idle_ticks_needed = 0;    // 0: no idle limit
  unsigned length_ticks_needed = 0;  // 0: no length limit
  unsigned ticks = 0;                // watchdog ticks since the pump began
  unsigned idle_ticks = 0;           // ... in a row without a write either way
  std::uint64_t writes_seen = 0;
  bool ending = false;
  bool upstream_done = false;  // the client → console direction has returned
  // Made only when the pump has to wait for that direction, and cancelled when
  // it returns: the join, without a parallel group or a timer per idle session.
  std::unique_ptr<net::steady_timer> joined;
};

// The first direction to stop ends the session for both; the other one then
// stops on its own as its pending operation fails or sees the close.
net::awaitable<void> end_session(PumpState& state, Ender ender, error_code error) {
  if (state.ending) co_return;
  state.ending = true;
  if (state.cut) {
    ender = state.cut->ender;
    error = state.cut->error();
    state.result.stalled = state.cut->stalled();
  }
  state.result.ended_by = ender;
  state.result.error = error;
  if (state.cut && state.cut->limit(state.options)) {
    // A session limit (idle, length) ended it: the browser is told which, and
    // the console let go, as when the console ends.
    const EndReason why = *state.cut->limit(state.options);
    state.result.told = std::make_unique<EndReason>(why);
    state.console.abort();
    co_await state.client.close(why);
    co_return;
  }
  if (ender == Ender::console) {
    // Tell the browser why (the VM stopped, the console socket closed, the
    // console stopped reading), and wait for its close reply so the reason
    // reaches it, before letting the console go.
    // A named copy: GCC 12 mis-destroys temporaries passed by value to coroutines.
    std::optional<EndReason> said = state.result.stalled
                                        ? std::optional(state.options.console_stalled)
                                        : state.console.ending();
    state.console.abort();
    if (!said && state.why_ended && error != net::error::operation_aborted) {
      said = co_await state.why_ended->explain();
    }
    const EndReason why = said.value_or(state.options.console_closed);
    if (error != net::error::operation_aborted)
      state.result.told = std::make_unique<EndReason>(why);
    co_await state.client.close(why);
  } else {
    state.console.abort();
    state.client.abort();
  }
}

// One read into `data` and its write: the bytes moved (0 when the source had
// only its own protocol's traffic), or nullopt once the session is ending.
net::awaitable<std::optional<std::size_t>> relay(PumpState& state, ByteStream& from, ByteStream& to,
                                                 Ender from_side, char* data, std::size_t room,
                                                 std::uint64_t& counter) {
  auto [read_error, n] = co_await from.read_some(net::buffer(data, room));
  if (read_error) {
    co_await end_session(state, from_side, read_error);
    co_return std::nullopt;
  }
  if (n == 0) co_return std::size_t{0};
  counter += n;
  WriteProgress& progress = state.progress(from_side);
  ++progress.writes;
  progress.writing = true;
  const error_code write_error = co_await to.write(net::buffer(data, n));
  progress.writing = false;
  if (write_error) {
    co_await end_session(state, from_side == Ender::client ? Ender::console : Ender::client,
                         write_error);
    co_return std::nullopt;
  }
  co_return n;
}

// A direction that never has to wait (its source always has data, its sink
// always takes it, or a layer drops what it is given) would keep its thread
// to itself: the other direction and every other session there would starve.
// Every this many relays it lets them run (one post, about every MiB).
constexpr unsigned relays_between_turns = 16;

// Lets the thread's other handlers run before this coroutine goes on.
net::awaitable<void> take_turns() { co_await net::post(net::use_awaitable); }

// A direction whose source can wait without a buffer: wait, borrow a buffer
// for one read and its write, give it back. Idle, it holds no buffer at all.
net::awaitable<void> copy_waiting(PumpState& state, ByteStream& from, ByteStream& to,
                                  Ender from_side, std::uint64_t& counter) {
  const std::size_t room = std::min(BorrowedBuffer::size, state.options.max_read);
  for (unsigned relays = 1;; ++relays) {
    if (const error_code wait_error = co_await from.wait_readable()) {
      co_await end_session(state, from_side, wait_error);
      co_return;
    }
    {
      const BorrowedBuffer buffer = BorrowedBuffer::borrow();
      if (!co_await relay(state, from, to, from_side, buffer.data(), room, counter)) co_return;
    }
    if (relays % relays_between_turns == 0) co_await take_turns();
  }
}

// A direction whose source must be read to learn of data (an SSH channel, TLS):
// reads go into a small buffer of its own while quiet and into a borrowed one
// while data flows.
net::awaitable<void> copy_reading(PumpState& state, ByteStream& from, ByteStream& to,
                                  Ender from_side, std::uint64_t& counter) {
  std::array<char, PumpOptions::quiet_buffer_size> quiet;
  BorrowedBuffer busy;
  for (unsigned relays = 1;; ++relays) {
    if (relays % relays_between_turns == 0) co_await take_turns();
    char* const data = busy ? busy.data() : quiet.data();
    const std::size_t room =
        std::min(busy ? BorrowedBuffer::size : quiet.size(), state.options.max_read);
    const std::optional<std::size_t> moved =
        co_await relay(state, from, to, from_side, data, room, counter);
    if (!moved) co_return;
    const std::size_t n = *moved;
    if (n == 0) continue;
    if (!busy && n == room) {
      busy = BorrowedBuffer::borrow();
    } else if (busy && n < PumpOptions::quiet_buffer_size) {
      busy.release();
    }
  }
}

using Copy = net::awaitable<void> (*)(PumpState&, ByteStream&, ByteStream&, Ender, std::uint64_t&);

// Chosen per direction up front, so that no extra coroutine frame sits between
// the pump and the loop while a session idles.
Copy copy_for(const ByteStream& from) {
  return from.can_wait_readable() ? &copy_waiting : &copy_reading;
}

}  // namespace

// Boost's error_category has a protected non-virtual destructor by design
// (categories are never deleted through a base pointer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class PumpCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "cgw.pump"; }
  std::string message(int code) const override {
    switch (code) {
      case 2:
        return "session idle";
      case 3:
        return "session time limit";
      default:
        return "peer stopped reading";
    }
  }
};
#pragma GCC diagnostic pop

error_code stalled_error() {
  static const PumpCategory category;
  return error_code(1, category);
}

error_code idle_error() { return error_code(2, stalled_error().category()); }

error_code too_long_error() { return error_code(3, stalled_error().category()); }

net::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console, const PumpOptions& options,
                                ConsoleEndReason* why_ended) {
  const auto executor = co_await net::this_coro::executor;
  PumpState state(client, console, options, why_ended);
  state.watch(executor);
  // client → console runs beside us; console → client runs here. Then we wait
  // for the other one (it stops soon after: end_session aborted or closed its
  // streams).
  net::co_spawn(
      executor,
      copy_for(client)(state, client, console, Ender::client, state.result.client_to_console),
      [&state](const std::exception_ptr& error) {
        if (error) {  // not expected; end the session rather than leave it half open
          state.console.abort();
          state.client.abort();
        }
        state.upstream_done = true;
        if (state.joined) state.joined->cancel();
      });
  co_await copy_for(console)(state, console, client, Ender::console,
                             state.result.console_to_client);
  while (!state.upstream_done) {
    if (!state.joined) {
      state.joined =
          std::make_unique<net::steady_timer>(executor, net::steady_timer::time_point::max());
    }
    co_await state.joined->async_wait(net::as_tuple(net::use_awaitable));
  }
  co_return std::move(state.result);
}

}  // namespace cgw::stream
