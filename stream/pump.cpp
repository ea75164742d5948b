#include "stream/pump.hpp"

#include "stream/buffer_pool.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <memory>

namespace cgw::stream {
namespace {

using namespace net::experimental::awaitable_operators;
using Ender = PumpResult::Ender;

// What both directions share. Both run on the same strand, so plain fields do.
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
    state.console.abort();
    co_await state.client.close(state.options.console_closed);
  } else {
    state.console.abort();
    state.client.abort();
  }
}

net::awaitable<void> copy(PumpState& state, ByteStream& from, ByteStream& to, Ender from_side,
                          std::uint64_t& counter) {
  const Ender to_side = from_side == Ender::client ? Ender::console : Ender::client;
  std::array<char, PumpOptions::quiet_buffer_size> quiet;
  BorrowedBuffer busy;
  for (;;) {
    // Quiet: wait in the small buffer. A read that fills it means data is
    // flowing: borrow a large one until reads come back small again.
    const net::mutable_buffer buffer =
        busy ? net::buffer(busy.data(), std::min(BorrowedBuffer::size, state.options.max_read))
             : net::buffer(quiet.data(), std::min(quiet.size(), state.options.max_read));
    auto [read_error, n] = co_await from.read_some(buffer);
    if (read_error) {
      co_await end_session(state, from_side, read_error);
      co_return;
    }
    counter += n;
    if (error_code write_error = co_await to.write(net::buffer(buffer.data(), n))) {
      co_await end_session(state, to_side, write_error);
      co_return;
    }
    if (!busy && n == buffer.size()) {
      busy = BorrowedBuffer::borrow();
    } else if (busy && n < quiet.size()) {
      busy.release();
    }
  }
}

}  // namespace

net::awaitable<PumpResult> pump(ByteStream& client, ByteStream& console,
                                const PumpOptions& options) {
  PumpState state(client, console, options);
  co_await (copy(state, client, console, Ender::client, state.result.client_to_console) &&
            copy(state, console, client, Ender::console, state.result.console_to_client));
  co_return state.result;
}

}  // namespace cgw::stream
