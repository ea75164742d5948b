// WakeAll: the "wake every waiter" event the SSH session uses to retry libssh2
// operations. Internal to cgw::tunnel.
//
// It owns a timer that never expires: wait() parks the calling coroutine on it
// and notify_all() cancels it, resuming every coroutine parked at that moment.
// Waiters test their condition before waiting, on the same strand as the
// notifier, so no wakeup is lost. Use it from one strand only.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cgw::tunnel {

class WakeAll {
 public:
  explicit WakeAll(const boost::asio::any_io_executor& executor)
      : timer_(executor, boost::asio::steady_timer::time_point::max()) {}

  // Returns after the next notify_all(), or when the awaiting coroutine is cancelled.
  boost::asio::awaitable<void> wait() {
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  void notify_all() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace cgw::tunnel
