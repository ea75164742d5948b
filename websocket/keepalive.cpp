#include "websocket/keepalive.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cgw::websocket {

namespace net = boost::asio;

// One per io_context (an Asio service, so it lives exactly as long as the
// context and its pending ticking coroutine).
class KeepaliveList : public net::execution_context::service {
 public:
  using key_type = KeepaliveList;
  static inline net::execution_context::id id;  // NOLINT: Asio's service identity

  explicit KeepaliveList(net::execution_context& context) : service(context) {}
  void shutdown() override {}

  void add(KeepaliveMember& m) {
    m.list_ = this;
    m.prev_ = nullptr;
    m.next_ = head_;
    if (head_) head_->prev_ = &m;
    head_ = &m;
  }

  void remove(KeepaliveMember& m) noexcept {
    if (m.prev_) m.prev_->next_ = m.next_;
    if (m.next_) m.next_->prev_ = m.prev_;
    if (head_ == &m) head_ = m.next_;
    if (cursor_ == &m) cursor_ = m.next_;
    m.list_ = nullptr;
    m.prev_ = m.next_ = nullptr;
  }

  // Starts the ticking coroutine unless it runs; it stops when the list is empty.
  void ensure_ticking(const net::any_io_executor& executor, std::chrono::milliseconds interval) {
    if (ticking_) return;
    ticking_ = true;
    net::co_spawn(executor, tick_loop(executor, interval), net::detached);
  }

 private:
  // Clears `ticking_` however the loop ends, including when its io_context is
  // destroyed with the timer pending.
  struct TickingFlag {
    bool& flag;
    ~TickingFlag() { flag = false; }
  };

  net::awaitable<void> tick_loop(net::any_io_executor executor,
                                 std::chrono::milliseconds interval) {
    TickingFlag running{ticking_};
    net::steady_timer timer(executor);
    const auto period = std::max(std::chrono::milliseconds(1), interval / 2);
    while (head_) {
      timer.expires_after(period);
      auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      // A member may leave while being ticked (it aborts, its session ends later,
      // but be safe): the cursor moves on when its member is removed.
      for (cursor_ = head_; cursor_;) {
        KeepaliveMember* m = cursor_;
        cursor_ = m->next_;
        m->on_tick();
      }
    }
  }

  KeepaliveMember* head_ = nullptr;
  KeepaliveMember* cursor_ = nullptr;
  bool ticking_ = false;
};

void KeepaliveMember::join_keepalive(const net::any_io_executor& executor,
                                     std::chrono::milliseconds interval) {
  if (list_ || interval.count() <= 0) return;
  KeepaliveList& list =
      net::use_service<KeepaliveList>(net::query(executor, net::execution::context));
  list.add(*this);
  list.ensure_ticking(executor, interval);
}

void KeepaliveMember::leave_keepalive() noexcept {
  if (list_) list_->remove(*this);
}

}  // namespace cgw::websocket
