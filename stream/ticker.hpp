// Ticker: one timer per io_context and period that ticks its members, so that
// per-session periodic checks (the pump's watchdog and session limits, the
// WebSocket keepalive) need no timer per session or per operation.
//
// Each io_context keeps one intrusive list per tick period (an Asio service);
// a list's ticking coroutine runs while the list has members and starts again
// when a member joins an empty list. Joining and leaving are O(1), allocate
// nothing (once the io_context has a list for that period) and take no lock:
// the gateway runs each io_context on one thread only, and a member joins,
// leaves and is ticked on it. A member may leave, or be destroyed, while its
// list is being ticked, including from its own on_tick().
//
// A member belongs to at most one list at a time. An object that needs two
// memberships (two periods) holds two small member sub-objects rather than
// deriving from TickerMember twice.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>

namespace cgw::stream {

class TickerList;

class TickerMember {
 public:
  TickerMember() = default;
  TickerMember(const TickerMember&) = delete;
  TickerMember& operator=(const TickerMember&) = delete;

  // Called on the member's thread once per tick while it is a member.
  virtual void on_tick() = 0;

  // Joins the list of the executor's io_context that ticks every `period`,
  // starting its timer on `executor` if it is not running. Does nothing if
  // already a member or if `period` is not positive.
  void join(const boost::asio::any_io_executor& executor, std::chrono::milliseconds period);
  // Leaves the list; no tick comes after this. Does nothing if not a member.
  void leave() noexcept;
  bool is_member() const noexcept { return list_ != nullptr; }

 protected:
  virtual ~TickerMember() { leave(); }

 private:
  friend class TickerList;
  TickerList* list_ = nullptr;
  TickerMember* prev_ = nullptr;
  TickerMember* next_ = nullptr;
};

}  // namespace cgw::stream
