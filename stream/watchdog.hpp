// Watchdog: one timer per io_context that ticks its members (the pumps of that
// thread's sessions), so that a pump can check for writes that stopped making
// progress without a timer per session or per write.
//
// Like websocket/keepalive.hpp: an intrusive list per io_context, joined and left
// in O(1) without a lock (each io_context runs on one thread, and a member joins
// and leaves on it). The first member to join sets the tick interval.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>

namespace cgw::stream {

class WatchdogList;

class WatchdogMember {
 public:
  WatchdogMember() = default;
  WatchdogMember(const WatchdogMember&) = delete;
  WatchdogMember& operator=(const WatchdogMember&) = delete;

  // Called on the member's thread once per tick while it is a member.
  virtual void on_watchdog_tick() = 0;

 protected:
  virtual ~WatchdogMember() { leave_watchdog(); }

  // Joins the list of the executor's io_context, starting its timer (ticking every
  // `period`) if needed.
  void join_watchdog(const boost::asio::any_io_executor& executor,
                     std::chrono::milliseconds period);
  void leave_watchdog() noexcept;

 private:
  friend class WatchdogList;
  WatchdogList* list_ = nullptr;
  WatchdogMember* prev_ = nullptr;
  WatchdogMember* next_ = nullptr;
};

}  // namespace cgw::stream
