// Small RAII owners of libvirt handles, and the capture of libvirt's
// thread-local last error. Use from the thread that made the call.
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <string>
#include <utility>

namespace cgw::libvirt {

// Owns one reference of a virConnectPtr.
class Connection {
 public:
  Connection() = default;
  explicit Connection(virConnectPtr conn) noexcept : conn_(conn) {}
  Connection(Connection&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Connection& operator=(Connection&& other) noexcept {
    if (this != &other) reset(std::exchange(other.conn_, nullptr));
    return *this;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { reset(); }

  void reset(virConnectPtr conn = nullptr) noexcept {
    if (conn_) virConnectClose(conn_);
    conn_ = conn;
  }
  virConnectPtr get() const noexcept { return conn_; }
  explicit operator bool() const noexcept { return conn_ != nullptr; }

 private:
  virConnectPtr conn_ = nullptr;
};

// Owns one reference of a virDomainPtr.
class Domain {
 public:
  explicit Domain(virDomainPtr dom) noexcept : dom_(dom) {}
  Domain(Domain&& other) noexcept : dom_(std::exchange(other.dom_, nullptr)) {}
  Domain& operator=(Domain&&) = delete;
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;
  ~Domain() {
    if (dom_) virDomainFree(dom_);
  }
  virDomainPtr get() const noexcept { return dom_; }
  explicit operator bool() const noexcept { return dom_ != nullptr; }

 private:
  virDomainPtr dom_ = nullptr;
};

// Owns a virStreamPtr. A stream still open (not yet at its end) is aborted
// before it is freed, which is an RPC to the hypervisor: destroy (or reset) it
// on a thread that may block, never on a network thread.
class Stream {
 public:
  Stream() = default;
  explicit Stream(virStreamPtr stream) noexcept : stream_(stream) {}
  Stream(Stream&& other) noexcept : stream_(std::exchange(other.stream_, nullptr)) {}
  Stream& operator=(Stream&& other) noexcept {
    if (this != &other) {
      reset();
      stream_ = std::exchange(other.stream_, nullptr);
    }
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { reset(); }

  void reset() noexcept {
    if (!stream_) return;
    if (virStreamAbort(stream_) < 0) virResetLastError();  // it may have ended already
    virStreamFree(stream_);
    stream_ = nullptr;
  }
  virStreamPtr get() const noexcept { return stream_; }
  // Gives up ownership: the caller ends and frees the stream.
  virStreamPtr release() noexcept { return std::exchange(stream_, nullptr); }
  explicit operator bool() const noexcept { return stream_ != nullptr; }

 private:
  virStreamPtr stream_ = nullptr;
};

// libvirt's last error on this thread, copied out before anything else can replace it.
struct LastError {
  int code = VIR_ERR_OK;
  int domain = VIR_FROM_NONE;
  std::string message;
  static LastError take();
};

// Once per process: silence libvirt's default printing of errors to stderr (we log
// them ourselves), and run libvirt's event loop on a thread of its own so that
// connection keepalives work.
void ensure_initialised();

}  // namespace cgw::libvirt
