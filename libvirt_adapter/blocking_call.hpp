// async_run_blocking: one blocking libvirt call on threads of its own, with a
// time limit, completed on the caller's executor. Shared by the domain lookups
// (hypervisors.cpp) and the serial consoles' opener (libvirt_console/).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

namespace cgw::libvirt {

namespace detail {
namespace net = boost::asio;

// One blocking call and its deadline. Whichever ends first, the call or the
// timer, completes the caller, once; the loser finds `settled` already set.
// It holds the caller's handler (and so the caller's frame) and nothing of the
// host's threads: a call still waiting when the server stops is destroyed with
// the event loop, after the hosts. The host's thread holds it only weakly, so
// that a call that returns after its time limit (perhaps after the event loop
// is gone) never destroys it, nor its timer, there.
template <class T, class Handler>
struct PendingCall {
  PendingCall(Handler h, const net::any_io_executor& ex) : handler(std::move(h)), timer(ex) {}
  Handler handler;
  net::steady_timer timer;
  std::shared_ptr<std::atomic<bool>> settled = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace detail

// Runs `work` on `where` and completes with its result on the caller's executor,
// or with nullopt once `timeout` has passed, even if `work` is still blocked (a
// result that comes too late is destroyed on `where`'s thread).
// `where` is used only while starting.
template <class T, class Work, class Token>
auto async_run_blocking(boost::asio::thread_pool& where, Work work,
                        std::chrono::milliseconds timeout, Token&& token) {
  namespace net = boost::asio;
  auto start = [&where, timeout](auto handler, Work job) {
    using Handler = decltype(handler);
    const net::any_io_executor caller = net::get_associated_executor(handler);
    auto call = std::make_shared<detail::PendingCall<T, Handler>>(std::move(handler), caller);
    call->timer.expires_after(timeout);
    call->timer.async_wait([call](const boost::system::error_code& ec) {
      if (ec || call->settled->exchange(true)) return;
      std::move(call->handler)(std::optional<T>());
    });
    std::weak_ptr<detail::PendingCall<T, Handler>> waiting = call;
    net::post(where, [waiting, settled = call->settled, job = std::move(job)]() mutable {
      T value = job();
      // The timer's wait holds the call until it fires (and settles it) or the
      // event loop goes away: either way nobody waits any more.
      auto still = waiting.lock();
      if (!still || settled->exchange(true)) return;
      const auto ex = still->timer.get_executor();
      net::post(ex, [call = std::move(still), value = std::move(value)]() mutable {
        call->timer.cancel();
        std::move(call->handler)(std::optional<T>(std::move(value)));
      });
    });
  };
  return net::async_initiate<Token, void(std::optional<T>)>(std::move(start), token,
                                                            std::move(work));
}

}  // namespace cgw::libvirt
