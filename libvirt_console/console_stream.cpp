#include "libvirt_console/console_stream.hpp"

#include "common/log.hpp"
#include "libvirt_adapter/libvirt_handles.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <climits>
#include <mutex>
#include <string_view>
#include <unordered_set>

namespace cgw::libvirt_console {
namespace {

namespace net = boost::asio;
constexpr log::Logger logger{"libvirt_console"};
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// One virStreamRecv / virStreamSend moves at most this much.
constexpr std::size_t max_chunk = 64 * 1024;

}  // namespace

// The session's side of the events: two wake-ups, touched on the executor only.
struct ConsoleStream::Watch {
  explicit Watch(const net::any_io_executor& ex) : readable(ex), writable(ex) {}
  net::steady_timer readable;
  net::steady_timer writable;
  void wake() {
    readable.cancel();
    writable.cancel();
  }
};

// libvirt's side: what its event thread may touch. `gone` (under the mutex)
// says the stream has ended, so nothing more is posted to the session.
struct ConsoleStream::Notifier {
  std::mutex mutex;
  bool gone = false;
  net::any_io_executor executor;
  std::weak_ptr<ConsoleStream::Watch> watch;
};

namespace {

using Notifier = ConsoleStream::Notifier;

// On libvirt's event thread: switch the stream's events off until the session
// asks again (or this fires for as long as data waits), and wake the session.
void on_stream_event(virStreamPtr stream, int, void* opaque) {
  if (virStreamEventUpdateCallback(stream, 0) < 0) virResetLastError();
  auto& notifier = *static_cast<std::shared_ptr<Notifier>*>(opaque);
  const std::lock_guard lock(notifier->mutex);
  if (notifier->gone) return;
  net::post(notifier->executor, [watch = notifier->watch] {
    if (auto w = watch.lock()) w->wake();
  });
}

// libvirt frees a callback's opaque from its event loop some time after the
// callback is removed; at exit the loop stops first, so the last ones are never
// freed. They stay listed here until freed: reachable, so not reported as
// leaks, as they are not (the process ends).
std::mutex& pending_mutex() {
  static std::mutex mutex;
  return mutex;
}
std::unordered_set<void*>& pending_frees() {
  static auto* pending = new std::unordered_set<void*>();
  return *pending;
}

void* hand_to_libvirt(std::shared_ptr<Notifier> notifier) {
  auto* opaque = new std::shared_ptr<Notifier>(std::move(notifier));
  const std::lock_guard lock(pending_mutex());
  pending_frees().insert(opaque);
  return opaque;
}

void free_notifier(void* opaque) {
  {
    const std::lock_guard lock(pending_mutex());
    pending_frees().erase(opaque);
  }
  delete static_cast<std::shared_ptr<Notifier>*>(opaque);
}

}  // namespace

ConsoleStream::ConsoleStream(virStreamPtr stream, net::any_io_executor executor,
                             std::shared_ptr<net::thread_pool> blocking,
                             std::shared_ptr<std::atomic<bool>> taken_over)
    : stream_(stream),
      blocking_(std::move(blocking)),
      taken_over_by_force_(std::move(taken_over)),
      watch_(std::make_shared<Watch>(executor)) {
  auto notifier = std::make_shared<Notifier>();
  notifier->executor = executor;
  notifier->watch = watch_;
  notifier_ = notifier;
  // Nothing armed yet: the first read or write that finds nothing to do arms.
  void* opaque = hand_to_libvirt(notifier);
  if (virStreamEventAddCallback(stream_, 0, on_stream_event, opaque, free_notifier) < 0) {
    free_notifier(opaque);
    failed(libvirt::LastError::take().message);
  }
}

ConsoleStream::~ConsoleStream() { abort(); }

void ConsoleStream::arm() noexcept {
  int events = 0;
  if (reading_) events |= VIR_STREAM_EVENT_READABLE;
  if (writing_) events |= VIR_STREAM_EVENT_WRITABLE;
  if (events) events |= VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
  if (virStreamEventUpdateCallback(stream_, events) < 0) virResetLastError();
}

void ConsoleStream::failed(std::string why) noexcept {
  // libvirtd says only "stream had I/O failure" to a stream it ends for a
  // client with VIR_DOMAIN_CONSOLE_FORCE; the opener marked it before.
  if (taken_over_by_force_ && taken_over_by_force_->load()) {
    taken_over_ = true;
    logger.info("console stream taken over: ", why);
  } else {
    logger.info("console stream failed: ", why);
  }
  abort();
}

net::awaitable<std::tuple<stream::error_code, std::size_t>> ConsoleStream::read_some(
    net::mutable_buffer buf) {
  if (buf.size() == 0) co_return std::tuple(stream::error_code(), 0);  // 0 would read as the end
  for (;;) {
    if (ended_) co_return std::tuple(stream::error_code(net::error::operation_aborted), 0);
    const std::size_t size = std::min(buf.size(), max_chunk);
    const int n = virStreamRecv(stream_, static_cast<char*>(buf.data()), size);
    if (n > 0) co_return std::tuple(stream::error_code(), static_cast<std::size_t>(n));
    if (n == 0) co_return std::tuple(stream::error_code(net::error::eof), 0);
    if (n == -1) {
      failed(libvirt::LastError::take().message);
      co_return std::tuple(stream::error_code(net::error::connection_reset), 0);
    }
    // -2: nothing now. Wait for libvirt to say there is, holding the buffer.
    reading_ = true;
    arm();
    watch_->readable.expires_at(net::steady_timer::time_point::max());
    co_await watch_->readable.async_wait(use_tuple);
    reading_ = false;
  }
}

net::awaitable<stream::error_code> ConsoleStream::write(net::const_buffer buf) {
  const char* data = static_cast<const char*>(buf.data());
  std::size_t left = buf.size();
  while (left > 0) {
    if (ended_) co_return stream::error_code(net::error::operation_aborted);
    const int n = virStreamSend(stream_, data, std::min(left, max_chunk));
    if (n > 0) {
      data += n;
      left -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == -1) {
      failed(libvirt::LastError::take().message);
      co_return stream::error_code(net::error::connection_reset);
    }
    // -2 (or nothing taken): libvirt's queue is full; the pump reads no more
    // from the browser until it drains.
    writing_ = true;
    arm();
    watch_->writable.expires_at(net::steady_timer::time_point::max());
    co_await watch_->writable.async_wait(use_tuple);
    writing_ = false;
  }
  co_return stream::error_code();
}

net::awaitable<void> ConsoleStream::close(stream::EndReason) {
  abort();
  co_return;
}

void ConsoleStream::abort() noexcept {
  if (ended_) return;
  ended_ = true;
  if (auto notifier = notifier_.lock()) {
    const std::lock_guard lock(notifier->mutex);
    notifier->gone = true;
  }
  if (virStreamEventRemoveCallback(stream_) < 0) virResetLastError();
  // virStreamAbort is an RPC: on the opener's threads, with the free.
  net::post(*blocking_, [owned = std::make_shared<libvirt::Stream>(stream_)]() { owned->reset(); });
  stream_ = nullptr;
  watch_->wake();
}

bool ConsoleStream::is_open() const noexcept { return !ended_; }

std::optional<stream::EndReason> ConsoleStream::ending() const {
  if (!taken_over_) return std::nullopt;
  // 4411: gateway/outcome.hpp's console_taken_over.
  return stream::EndReason{4411, "console taken over by another client"};
}

}  // namespace cgw::libvirt_console
