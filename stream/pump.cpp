#include "stream/pump.hpp"

#include "stream/buffer_pool.hpp"

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

namespace cgw::stream {

namespace net = boost::asio;
namespace {

using Ender = PumpResult::Ender;

// What both directions share. Both run on the caller's executor, one at a time,
// so plain fields do.
struct PumpState {
  // A constructor, not brace-initialisation: GCC 12 mis-destroys aggregates
  // initialised with temporaries inside a coroutine frame.
  PumpState(ByteStream& c, ByteStream& k, const PumpOptions& o)
      : client(c), console(k), options(o) {}
  ByteStream& client;
  ByteStream& console;
  PumpOptions options;
  PumpResult result;
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
  state.result.ended_by = ender;
  state.result.error = error;
  if (ender == Ender::console) {
    // Tell the browser why (the VM stopped, the console socket closed), and wait
    // for its close reply so the reason reaches it, before letting the console go.
    // A named copy: GCC 12 mis-destroys temporaries passed by value to coroutines.
    const EndReason why = state.console.ending().value_or(state.options.console_closed);
    state.console.abort();
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
  if (const error_code write_error = co_await to.write(net::buffer(data, n))) {
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

net::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console,
                                const PumpOptions& options) {
  const auto executor = co_await net::this_coro::executor;
  PumpState state(client, console, options);
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
  co_return state.result;
}

}  // namespace cgw::stream
