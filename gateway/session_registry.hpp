// SessionRegistry: the consoles open right now, so that stopping the gateway can
// end each of them in order (close 1001 "gateway restarting") instead of cutting
// the connections. Sessions register when their console is connected and
// unregister when they end.
//
// Thread-safe. An entry's ender is called with the registry's lock released and
// must only post work to its session's executor.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

namespace cgw::gateway {

class SessionRegistry {
 public:
  using Ender = std::function<void()>;

  // Removes its entry when it goes.
  class Entry {
   public:
    Entry(SessionRegistry& registry, std::uint64_t id) : registry_(&registry), id_(id) {}
    Entry(Entry&& other) noexcept
        : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}
    Entry& operator=(Entry&&) = delete;
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry() {
      if (registry_) registry_->remove(id_);
    }

   private:
    SessionRegistry* registry_;
    std::uint64_t id_;
  };

  Entry add(std::uint64_t id, Ender ender) {
    std::lock_guard lock(mutex_);
    enders_.emplace(id, std::move(ender));
    return Entry(*this, id);
  }

  // Asks every open session to end; returns how many were asked.
  std::size_t end_all() {
    std::map<std::uint64_t, Ender> enders;
    {
      std::lock_guard lock(mutex_);
      enders = enders_;
    }
    for (auto& [id, ender] : enders) ender();
    return enders.size();
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return enders_.size();
  }

 private:
  void remove(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    enders_.erase(id);
  }

  mutable std::mutex mutex_;
  std::map<std::uint64_t, Ender> enders_;
};

}  // namespace cgw::gateway
