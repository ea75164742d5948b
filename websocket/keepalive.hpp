// Keepalive: WebSocket pings for idle consoles without a timer per session.
//
// Each io_context keeps one list of its open WebSocket sessions and one timer
// that ticks every half ping interval; on each tick every member is asked to
// look at itself (did the browser send anything since the last tick? If not,
// ping it, or give up on it). Joining, leaving and ticking are O(1) per member
// and take no lock: the gateway runs each io_context on one thread only, and
// a member joins and leaves on it.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>

namespace cgw::websocket {

class KeepaliveList;

class KeepaliveMember {
 public:
  KeepaliveMember() = default;
  KeepaliveMember(const KeepaliveMember&) = delete;
  KeepaliveMember& operator=(const KeepaliveMember&) = delete;

  // Called on the member's thread once per tick while it is a member.
  virtual void on_tick() = 0;

 protected:
  virtual ~KeepaliveMember() { leave_keepalive(); }

  // Joins the list of the executor's io_context (starting its timer on `executor` if needed).
  // `interval` is the ping interval; the list ticks at half of it.
  void join_keepalive(const boost::asio::any_io_executor& executor,
                      std::chrono::milliseconds interval);
  void leave_keepalive() noexcept;

 private:
  friend class KeepaliveList;
  KeepaliveList* list_ = nullptr;
  KeepaliveMember* prev_ = nullptr;
  KeepaliveMember* next_ = nullptr;
};

}  // namespace cgw::websocket
