#include "libvirt_console/stream_opener.hpp"

#include "common/log.hpp"
#include "libvirt_adapter/blocking_call.hpp"
#include "libvirt_adapter/libvirt_handles.hpp"
#include "libvirt_console/console_stream.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::libvirt_console {
namespace {

namespace net = boost::asio;
using tunnel::ConnectResult;
using Failure = ConnectResult::Failure;
constexpr log::Logger logger{"libvirt_console"};

// The read-write connections, one per URI. Shared by the blocking jobs (which
// may outlive the opener when their caller stopped waiting); never owns the
// threads they run on.
struct Connections {
  StreamOpenerOptions options;
  std::mutex mutex;
  std::map<std::string, libvirt::Connection, std::less<>> by_uri;

  // A reference of the URI's live connection for one call, opened when needed;
  // empty (and `error` set) when it cannot be opened.
  libvirt::Connection use(const std::string& uri, std::string& error) {
    const std::lock_guard lock(mutex);
    libvirt::Connection& conn = by_uri[uri];
    if (conn && virConnectIsAlive(conn.get()) != 1) {
      logger.warn("connection to ", uri, " lost; reconnecting");
      conn.reset();
    }
    if (!conn) {
      // Read-write: opening a console is refused on a read-only connection.
      virConnectPtr opened = virConnectOpen(uri.c_str());
      if (!opened) {
        error = libvirt::LastError::take().message;
        return libvirt::Connection();
      }
      conn.reset(opened);
      if (virConnectSetKeepAlive(opened, options.keepalive_interval_s, options.keepalive_count) <
          0) {
        virResetLastError();  // drivers without a remote side have none
      }
      logger.info("connected to ", uri, " (read-write, for serial consoles)");
    }
    virConnectRef(conn.get());
    return libvirt::Connection(conn.get());
  }

  // The consoles this opener holds, by URI and domain, each with the flag its
  // stream reads when libvirt ends it: a force open marks the holders first,
  // as libvirt ends their streams before it answers the open.
  std::multimap<std::string, std::weak_ptr<std::atomic<bool>>> holders;

  std::vector<std::shared_ptr<std::atomic<bool>>> mark_holders(const std::string& key) {
    std::vector<std::shared_ptr<std::atomic<bool>>> marked;
    const std::lock_guard lock(mutex);
    for (auto [it, end] = holders.equal_range(key); it != end;) {
      if (auto flag = it->second.lock()) {
        flag->store(true);
        marked.push_back(std::move(flag));
        ++it;
      } else {
        it = holders.erase(it);
      }
    }
    return marked;
  }

  // Ended streams' entries go when their console is opened again, and all of
  // them whenever the map has doubled since the last sweep.
  void add_holder(const std::string& key, const std::shared_ptr<std::atomic<bool>>& flag) {
    const std::lock_guard lock(mutex);
    for (auto [it, end] = holders.equal_range(key); it != end;) {
      it = it->second.expired() ? holders.erase(it) : std::next(it);
    }
    if (holders.size() >= 2 * swept_size) {
      std::erase_if(holders, [](const auto& entry) { return entry.second.expired(); });
      swept_size = std::max<std::size_t>(holders.size(), 64);
    }
    holders.emplace(key, flag);
  }
  std::size_t swept_size = 64;

  void drop(const std::string& uri, const libvirt::Connection& used) {
    const std::lock_guard lock(mutex);
    const auto it = by_uri.find(uri);
    if (it != by_uri.end() && it->second.get() == used.get()) it->second.reset();
  }
};

// The blocking job's answer: an open stream, or why there is none. A stream
// that nobody takes (its caller gave up waiting) is aborted where it is
// destroyed, on the opener's thread.
struct Opened {
  libvirt::Stream stream;
  std::shared_ptr<std::atomic<bool>> taken_over;  // set when another client takes it
  Failure failure = Failure::none;
  std::string reason;
};

Opened failure(Failure failure, std::string reason) {
  Opened out;
  out.failure = failure;
  out.reason = std::move(reason);
  return out;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

struct Request {
  std::string uri;
  std::string uuid;
  std::string device;
  bool force = false;
};

Opened open_blocking(Connections& connections, const Request& request) {
  std::string error;
  const libvirt::Connection conn = connections.use(request.uri, error);
  if (!conn) return failure(Failure::hypervisor_unreachable, "hypervisor unreachable: " + error);
  const libvirt::Domain domain(virDomainLookupByUUIDString(conn.get(), request.uuid.c_str()));
  if (!domain) {
    libvirt::LastError err = libvirt::LastError::take();
    if (err.code == VIR_ERR_NO_DOMAIN) return failure(Failure::no_console, "domain not found");
    connections.drop(request.uri, conn);
    return failure(Failure::hypervisor_unreachable, "hypervisor unreachable: " + err.message);
  }
  libvirt::Stream stream(virStreamNew(conn.get(), VIR_STREAM_NONBLOCK));
  if (!stream) {
    return failure(Failure::hypervisor_unreachable,
                   "cannot make a stream: " + libvirt::LastError::take().message);
  }
  // SAFE: libvirt refuses a second client of the console instead of sharing
  // it; FORCE: that client's stream is ended and the console is ours.
  unsigned flags = VIR_DOMAIN_CONSOLE_SAFE;
  if (request.force) flags |= VIR_DOMAIN_CONSOLE_FORCE;
  const char* device = request.device.empty() ? nullptr : request.device.c_str();
  const std::string key = request.uri + " " + request.uuid;
  std::vector<std::shared_ptr<std::atomic<bool>>> marked;
  if (request.force) marked = connections.mark_holders(key);
  if (virDomainOpenConsole(domain.get(), device, stream.get(), flags) < 0) {
    libvirt::LastError err = libvirt::LastError::take();
    for (const auto& flag : marked) flag->store(false);
    stream.release();  // never opened: nothing to abort
    if (contains(err.message, "Active console session exists")) {
      return failure(Failure::console_busy, err.message);
    }
    if (err.code == VIR_ERR_OPERATION_INVALID || err.code == VIR_ERR_NO_DOMAIN ||
        contains(err.message, "cannot find character device") ||
        contains(err.message, "character device")) {
      return failure(Failure::no_console, err.message);
    }
    return failure(Failure::hypervisor_unreachable, err.message);
  }
  Opened out;
  out.stream = std::move(stream);
  out.taken_over = std::make_shared<std::atomic<bool>>(false);
  connections.add_holder(key, out.taken_over);
  return out;
}

}  // namespace

struct StreamOpener::Impl {
  explicit Impl(StreamOpenerOptions o)
      : options(o),
        pool(std::make_shared<net::thread_pool>(std::max(1u, o.threads))),
        connections(std::make_shared<Connections>()) {
    connections->options = o;
  }
  StreamOpenerOptions options;
  // Shared with the streams, which abort themselves on it when they end.
  std::shared_ptr<net::thread_pool> pool;
  std::shared_ptr<Connections> connections;
};

StreamOpener::StreamOpener(StreamOpenerOptions options) {
  libvirt::ensure_initialised();  // libvirt's event loop, which streams' events need
  impl_ = std::make_shared<Impl>(options);
}

StreamOpener::~StreamOpener() = default;

net::awaitable<ConnectResult> StreamOpener::open(const tunnel::ConsoleSpec& console) const {
  const auto executor = co_await net::this_coro::executor;
  Request request;
  request.uri = console.host.uri;
  request.uuid = std::string(console.uuid);
  request.device = std::string(console.device);
  request.force = console.force;
  std::string description = "libvirt console " +
                            (request.device.empty() ? std::string("(first)") : request.device) +
                            (request.force ? " force" : "");
  auto job = [connections = impl_->connections, request = std::move(request)] {
    return open_blocking(*connections, request);
  };
  std::optional<Opened> opened = co_await libvirt::async_run_blocking<Opened>(
      *impl_->pool, std::move(job), impl_->options.call_timeout, net::use_awaitable);
  if (!opened) {
    co_return ConnectResult::failed(Failure::hypervisor_unreachable,
                                    "libvirt did not answer within " +
                                        std::to_string(impl_->options.call_timeout.count()) + " ms",
                                    std::move(description));
  }
  if (opened->failure != Failure::none) {
    co_return ConnectResult::failed(opened->failure, std::move(opened->reason),
                                    std::move(description));
  }
  auto stream = std::make_unique<ConsoleStream>(opened->stream.release(), executor, impl_->pool,
                                                std::move(opened->taken_over));
  if (!stream->is_open()) {
    co_return ConnectResult::failed(Failure::hypervisor_unreachable,
                                    "cannot watch the console stream", std::move(description));
  }
  ConnectResult result;
  result.stream = std::move(stream);
  result.description = std::move(description);
  co_return result;
}

}  // namespace cgw::libvirt_console
