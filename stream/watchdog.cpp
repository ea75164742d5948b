#include "stream/watchdog.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace cgw::stream {

namespace net = boost::asio;

// One per io_context (an Asio service, so it lives exactly as long as the
// context and its pending ticking coroutine).
class WatchdogList : public net::execution_context::service {
 public:
  using key_type = WatchdogList;
  static inline net::execution_context::id id;  // NOLINT: Asio's service identity

  explicit WatchdogList(net::execution_context& context) : service(context) {}
  void shutdown() override {}

  void add(WatchdogMember& m) {
    m.list_ = this;
    m.prev_ = nullptr;
    m.next_ = head_;
    if (head_) head_->prev_ = &m;
    head_ = &m;
  }

  void remove(WatchdogMember& m) noexcept {
    if (m.prev_) m.prev_->next_ = m.next_;
    if (m.next_) m.next_->prev_ = m.prev_;
    if (head_ == &m) head_ = m.next_;
    if (cursor_ == &m) cursor_ = m.next_;
    m.list_ = nullptr;
    m.prev_ = m.next_ = nullptr;
  }

  // Starts the ticking coroutine unless it runs; it stops when the list is empty.
  void ensure_ticking(const net::any_io_executor& executor, std::chrono::milliseconds period) {
    if (ticking_) return;
    ticking_ = true;
    net::co_spawn(executor, tick_loop(executor, period), net::detached);
  }

 private:
  // Clears `ticking_` however the loop ends, including when its io_context is
  // destroyed with the timer pending.
  struct TickingFlag {
    bool& flag;
    ~TickingFlag() { flag = false; }
  };

  net::awaitable<void> tick_loop(net::any_io_executor executor, std::chrono::milliseconds period) {
    TickingFlag running{ticking_};
    net::steady_timer timer(executor);
    period = std::max(std::chrono::milliseconds(1), period);
    while (head_) {
      timer.expires_after(period);
      auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      // A member may leave while being ticked: the cursor moves on when its
      // member is removed.
      for (cursor_ = head_; cursor_;) {
        WatchdogMember* m = cursor_;
        cursor_ = m->next_;
        m->on_watchdog_tick();
      }
    }
  }

  WatchdogMember* head_ = nullptr;
  WatchdogMember* cursor_ = nullptr;
  bool ticking_ = false;
};

void WatchdogMember::join_watchdog(const net::any_io_executor& executor,
                                   std::chrono::milliseconds period) {
  if (list_ || period.count() <= 0) return;
  WatchdogList& list =
      net::use_service<WatchdogList>(net::query(executor, net::execution::context));
  list.add(*this);
  list.ensure_ticking(executor, period);
}

void WatchdogMember::leave_watchdog() noexcept {
  if (list_) list_->remove(*this);
}

}  // namespace cgw::stream
