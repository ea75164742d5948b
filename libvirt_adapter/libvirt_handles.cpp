#include "libvirt_adapter/libvirt_handles.hpp"

#include "common/log.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

namespace cgw::libvirt {
namespace {

constexpr log::Logger logger{"libvirt"};

void ignore_error(void*, virErrorPtr) {}

void wake(int, void*) {}

// libvirt's default event loop, needed for keepalive. It is process-wide; it is
// stopped at exit by waking it through a timer that is otherwise disabled.
class EventLoop {
 public:
  EventLoop() {
    if (virEventRegisterDefaultImpl() < 0) {
      logger.error("cannot register libvirt's event loop: ", LastError::take().message);
      return;
    }
    wake_timer_ = virEventAddTimeout(-1, wake, nullptr, nullptr);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        if (virEventRunDefaultImpl() < 0) break;
      }
    });
  }
  ~EventLoop() {
    if (!thread_.joinable()) return;
    stop_.store(true);
    virEventUpdateTimeout(wake_timer_, 0);
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  int wake_timer_ = -1;
  std::thread thread_;
};

}  // namespace

LastError LastError::take() {
  LastError out;
  if (const virErrorPtr err = virGetLastError()) {
    out.code = err->code;
    out.domain = err->domain;
    out.message = err->message ? err->message : "unknown libvirt error";
  } else {
    out.message = "unknown libvirt error";
  }
  virResetLastError();
  return out;
}

void ensure_initialised() {
  static std::once_flag once;
  static std::unique_ptr<EventLoop> loop;
  std::call_once(once, [] {
    virInitialize();
    virSetErrorFunc(nullptr, ignore_error);
    loop = std::make_unique<EventLoop>();
  });
}

}  // namespace cgw::libvirt
