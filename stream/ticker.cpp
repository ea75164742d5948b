#include "stream/ticker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <memory>
#include <vector>

namespace cgw::stream {

namespace net = boost::asio;

// The members ticked every `period` on one io_context, and its ticking coroutine.
class TickerList {
 public:
  explicit TickerList(std::chrono::milliseconds period) : period_(period) {}
  TickerList(const TickerList&) = delete;
  TickerList& operator=(const TickerList&) = delete;

  std::chrono::milliseconds period() const noexcept { return period_; }

  void add(TickerMember& m) noexcept {
    m.list_ = this;
    m.prev_ = nullptr;
    m.next_ = head_;
    if (head_) head_->prev_ = &m;
    head_ = &m;
  }

  void remove(TickerMember& m) noexcept {
    if (m.prev_) m.prev_->next_ = m.next_;
    if (m.next_) m.next_->prev_ = m.prev_;
    if (head_ == &m) head_ = m.next_;
    if (cursor_ == &m) cursor_ = m.next_;
    m.list_ = nullptr;
    m.prev_ = m.next_ = nullptr;
  }

  // Starts the ticking coroutine unless it runs; it stops when the list is empty.
  void ensure_ticking(const net::any_io_executor& executor) {
    if (ticking_) return;
    ticking_ = true;
    net::co_spawn(executor, tick_loop(executor), net::detached);
  }

 private:
  // Clears `ticking_` however the loop ends, including when its io_context is
  // destroyed with the timer pending.
  struct TickingFlag {
    bool& flag;
    ~TickingFlag() { flag = false; }
  };

  net::awaitable<void> tick_loop(net::any_io_executor executor) {
    TickingFlag running{ticking_};
    net::steady_timer timer(executor);
    while (head_) {
      timer.expires_after(period_);
      auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      // A member may leave (or be destroyed) while being ticked: the cursor
      // moves on when its member is removed.
      for (cursor_ = head_; cursor_;) {
        TickerMember* m = cursor_;
        cursor_ = m->next_;
        m->on_tick();
      }
    }
  }

  const std::chrono::milliseconds period_;
  TickerMember* head_ = nullptr;
  TickerMember* cursor_ = nullptr;
  bool ticking_ = false;
};

namespace {

// The lists of one io_context, one per period (an Asio service, so they live
// exactly as long as the context and its pending ticking coroutines: the
// context destroys those before it deletes its services). A list stays once
// made, so a thread has one per period ever used on it: a few in practice
// (the keepalive's, the watchdog's, and one more per reload that changes them).
class Tickers : public net::execution_context::service {
 public:
  using key_type = Tickers;
  static inline net::execution_context::id id;  // NOLINT: Asio's service identity

  explicit Tickers(net::execution_context& context) : service(context) {}
  void shutdown() override {}

  TickerList& list_for(std::chrono::milliseconds period) {
    for (const auto& list : lists_) {
      if (list->period() == period) return *list;
    }
    return *lists_.emplace_back(std::make_unique<TickerList>(period));
  }

 private:
  std::vector<std::unique_ptr<TickerList>> lists_;
};

}  // namespace

void TickerMember::join(const net::any_io_executor& executor, std::chrono::milliseconds period) {
  if (list_ || period.count() <= 0) return;
  TickerList& list =
      net::use_service<Tickers>(net::query(executor, net::execution::context)).list_for(period);
  list.add(*this);
  list.ensure_ticking(executor);
}

void TickerMember::leave() noexcept {
  if (list_) list_->remove(*this);
}

}  // namespace cgw::stream
