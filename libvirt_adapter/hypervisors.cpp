#include "libvirt_adapter/hypervisors.hpp"

#include "common/log.hpp"
#include "libvirt_adapter/blocking_call.hpp"
#include "libvirt_adapter/libvirt_handles.hpp"

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace cgw::libvirt {

namespace net = boost::asio;
namespace {

constexpr log::Logger logger{"libvirt"};

// One host: its libvirt calls run on threads of its own, as many at once as it
// has threads, so a host that hangs ties up only its own. The connection is
// shared by those threads (libvirt connections are thread-safe); opening,
// checking and dropping it happen under the mutex.
//
// A Hypervisors made by a reload shares the Host of each host whose spec is
// unchanged with the one before it; the last owner's destructor waits for the
// calls still inside libvirt (before the connection goes) and ends the threads.
//
// The threads are one first thread and the others behind it. A call goes to
// the first thread while that is free, or while it is only just busy: its call
// began less than `quick_call` ago and no other waits for it (a lookup on a
// local libvirt takes some 20 µs). Others go to the other threads: a call then
// never waits behind a slow one (a remote hypervisor's round trip, one that
// hangs) nor for long behind a first thread the scheduler has set aside. One
// pool of several threads instead wakes a second thread whenever it finds more
// work queued and spreads short-lived allocations over several malloc arenas:
// bench/run's set-up rate was 10% lower and an idle session took 1.3 KiB more
// (issue 14's note, bench/changes.md).
constexpr auto quick_call = std::chrono::milliseconds(1);

struct Host {
  Host(HostSpec s, unsigned threads) : spec(std::move(s)), first(1) {
    if (threads > 1) others.emplace(threads - 1);
  }
  ~Host() {
    first.join();
    if (others) others->join();
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  HostSpec spec;
  net::thread_pool first;
  std::optional<net::thread_pool> others;
  // Calls handed to `first` and not yet returned.
  std::atomic<unsigned> on_first{0};
  // When the first thread's current call began, or was queued for it while
  // it was free (steady clock, ns): a thread the scheduler has not woken yet
  // counts as busy from then.
  std::atomic<std::int64_t> first_since{0};

  // Whether a call now goes to the first thread; counts it there if so.
  bool take_first() {
    if (!others) {
      on_first.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    const std::int64_t now = std::chrono::steady_clock::now().time_since_epoch().count();
    unsigned queued = on_first.load(std::memory_order_relaxed);
    if (queued == 0) {
      if (!on_first.compare_exchange_strong(queued, 1, std::memory_order_relaxed)) return false;
      first_since.store(now, std::memory_order_relaxed);
      return true;
    }
    // One call there already: wait behind it only while it is young.
    if (queued != 1 || now - first_since.load(std::memory_order_relaxed) >=
                           std::chrono::nanoseconds(quick_call).count()) {
      return false;
    }
    return on_first.compare_exchange_strong(queued, 2, std::memory_order_relaxed);
  }
  void first_begins() {
    first_since.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                      std::memory_order_relaxed);
  }
  void first_ends() { on_first.fetch_sub(1, std::memory_order_relaxed); }
  std::mutex mutex;
  Connection connection;
  // Mirrors `connection` for readers that must not wait for the mutex (metrics).
  std::atomic<bool> connected{false};
  // Calls handed to `pool` and not yet returned (queued or inside libvirt).
  std::atomic<unsigned> pending{0};
};

// Hosts whose calls were still blocked inside libvirt when their Hypervisors
// went away: kept for those calls, never freed (reachable, so no leak is
// reported), since a thread blocked in libvirt cannot be stopped.
void keep_for_blocked_calls(std::shared_ptr<Host> host) {
  static std::mutex mutex;
  static auto* kept = new std::vector<std::shared_ptr<Host>>();
  const std::lock_guard lock(mutex);
  kept->push_back(std::move(host));
}

DomainLookup failure(DomainLookup::Status status, std::string reason) {
  DomainLookup out;
  out.status = status;
  out.reason = std::move(reason);
  return out;
}

// Opens the connection if there is none or it died. Called under the host's mutex.
bool ensure_connected(Host& host, const HypervisorOptions& options, std::string& error) {
  if (host.connection && virConnectIsAlive(host.connection.get()) == 1) return true;
  if (host.connection) {
    logger.warn("host=", host.spec.id, " connection lost; reconnecting");
    host.connection.reset();
    host.connected.store(false, std::memory_order_relaxed);
  }
  virConnectPtr conn = host.spec.secure_xml ? virConnectOpen(host.spec.uri.c_str())
                                            : virConnectOpenReadOnly(host.spec.uri.c_str());
  if (!conn) {
    error = LastError::take().message;
    return false;
  }
  host.connection.reset(conn);
  host.connected.store(true, std::memory_order_relaxed);
  // Keepalive fails for drivers without a remote side (test:///); that is fine.
  if (virConnectSetKeepAlive(conn, options.keepalive_interval_s, options.keepalive_count) < 0) {
    virResetLastError();
  }
  logger.info("host=", host.spec.id, " connected to ", host.spec.uri);
  return true;
}

// A reference of the host's live connection for one call, opened when needed;
// empty when it cannot be opened.
Connection use_connection(Host& host, const HypervisorOptions& options, std::string& error) {
  const std::lock_guard lock(host.mutex);
  if (!ensure_connected(host, options, error)) return Connection();
  virConnectRef(host.connection.get());
  return Connection(host.connection.get());
}

// After a failure that means the connection is unusable: the next call reopens it
// (unless another call has already replaced it).
void drop_connection(Host& host, const Connection& used) {
  const std::lock_guard lock(host.mutex);
  if (host.connection.get() == used.get()) {
    host.connection.reset();
    host.connected.store(false, std::memory_order_relaxed);
  }
}

// The whole lookup, as one blocking job on one of the host's threads.
DomainLookup lookup_blocking(Host& host, const HypervisorOptions& options,
                             const std::string& uuid) {
  std::string error;
  const Connection conn = use_connection(host, options, error);
  if (!conn) {
    return failure(DomainLookup::Status::unreachable,
                   "cannot connect to " + host.spec.uri + ": " + error);
  }
  const Domain domain(virDomainLookupByUUIDString(conn.get(), uuid.c_str()));
  if (!domain) {
    LastError err = LastError::take();
    if (err.code == VIR_ERR_NO_DOMAIN || err.code == VIR_ERR_INVALID_ARG) {
      return failure(DomainLookup::Status::unknown_domain, err.message);
    }
    // Anything else means the connection is unusable: drop it, the next call reopens.
    drop_connection(host, conn);
    return failure(DomainLookup::Status::unreachable, err.message);
  }
  // The live XML also says whether the domain runs: libvirt writes id='N' into
  // it exactly when the domain is active (running or paused), which is what
  // virDomainIsActive would answer in a call of its own.
  const unsigned xml_flags = host.spec.secure_xml ? VIR_DOMAIN_XML_SECURE : 0;
  char* xml = virDomainGetXMLDesc(domain.get(), xml_flags);
  if (!xml) {
    LastError err = LastError::take();
    if (err.code == VIR_ERR_NO_DOMAIN) {
      return failure(DomainLookup::Status::unknown_domain, err.message);
    }
    drop_connection(host, conn);
    return failure(DomainLookup::Status::unreachable, err.message);
  }
  std::optional<DomainXml> parsed = parse_domain_xml(xml);
  if (host.spec.secure_xml) explicit_bzero(xml, std::strlen(xml));  // it holds passwords
  std::free(xml);
  if (!parsed) {
    return failure(DomainLookup::Status::unreachable, "libvirt returned unreadable domain XML");
  }
  DomainLookup out;
  out.running = parsed->has_id;
  out.domain = std::move(*parsed);
  return out;
}

}  // namespace

struct Hypervisors::Impl {
  Impl(std::vector<HostSpec> specs, HypervisorOptions opts, const Impl* previous) : options(opts) {
    const unsigned threads = std::max(1u, opts.threads_per_host);
    for (HostSpec& spec : specs) {
      std::string id = spec.id;
      std::shared_ptr<Host> host;
      if (previous) {
        const auto it = previous->hosts.find(id);
        if (it != previous->hosts.end() && same_spec(it->second->spec, spec)) host = it->second;
      }
      if (!host) host = std::make_shared<Host>(std::move(spec), threads);
      hosts.emplace(std::move(id), std::move(host));
    }
  }
  static bool same_spec(const HostSpec& a, const HostSpec& b) {
    return a.id == b.id && a.uri == b.uri && a.secure_xml == b.secure_xml;
  }
  HypervisorOptions options;
  std::map<std::string, std::shared_ptr<Host>, std::less<>> hosts;
};

Hypervisors::Hypervisors(std::vector<HostSpec> hosts, HypervisorOptions options) {
  ensure_initialised();
  impl_ = std::make_unique<Impl>(std::move(hosts), options, nullptr);
}

Hypervisors::Hypervisors(std::vector<HostSpec> hosts, HypervisorOptions options,
                         const Hypervisors& previous) {
  ensure_initialised();
  impl_ = std::make_unique<Impl>(std::move(hosts), options, previous.impl_.get());
}

Hypervisors::~Hypervisors() {
  // Let calls already inside libvirt finish before the hosts they use go away,
  // but give them no more than their time limit: a hypervisor that hangs must
  // not hold up the gateway's stop. A host with a call still blocked is left
  // to it (keep_for_blocked_calls), with one log line. A host that a newer
  // Hypervisors (a reload) shares stays with it; the others go with impl_, each
  // Host's destructor joining its threads.
  const auto deadline = std::chrono::steady_clock::now() + impl_->options.call_timeout;
  for (auto& [id, host] : impl_->hosts) {
    if (host.use_count() > 1) continue;
    while (host->pending.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (host->pending.load() > 0) {
      logger.warn("host=", id, " a libvirt call is still blocked; not waiting for it any longer");
      keep_for_blocked_calls(std::move(host));
    }
  }
}

bool Hypervisors::shares_host(const Hypervisors& other, std::string_view host_id) const {
  const auto mine = impl_->hosts.find(host_id);
  const auto theirs = other.impl_->hosts.find(host_id);
  return mine != impl_->hosts.end() && theirs != other.impl_->hosts.end() &&
         mine->second == theirs->second;
}

bool Hypervisors::has_host(const std::string& host_id) const {
  return impl_->hosts.find(host_id) != impl_->hosts.end();
}

bool Hypervisors::connected(std::string_view host_id) const {
  const auto it = impl_->hosts.find(host_id);
  return it != impl_->hosts.end() && it->second->connected.load(std::memory_order_relaxed);
}

net::awaitable<DomainLookup> Hypervisors::lookup(std::string host_id, std::string uuid) {
  auto it = impl_->hosts.find(host_id);
  if (it == impl_->hosts.end()) {
    co_return failure(DomainLookup::Status::unknown_host, "no host " + host_id);
  }
  Host* host = it->second.get();
  // The options by value: a Host outlives the Hypervisors that queued a call
  // when a newer one shares it.
  const HypervisorOptions options = impl_->options;
  host->pending.fetch_add(1);
  const bool first = host->take_first();
  auto job = [host, options, first, uuid = std::move(uuid)] {
    if (first) host->first_begins();
    DomainLookup out = lookup_blocking(*host, options, uuid);
    if (first) host->first_ends();
    host->pending.fetch_sub(1);
    return out;
  };
  std::optional<DomainLookup> result =
      co_await async_run_blocking<DomainLookup>(first ? host->first : *host->others, std::move(job),
                                                options.call_timeout, net::use_awaitable);
  if (!result) {
    co_return failure(
        DomainLookup::Status::timed_out,
        "libvirt did not answer within " + std::to_string(options.call_timeout.count()) + " ms");
  }
  co_return std::move(*result);
}

}  // namespace cgw::libvirt
