#include "libvirt_adapter/hypervisors.hpp"

#include "common/log.hpp"
#include "libvirt_adapter/libvirt_handles.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdlib>
#include <map>
#include <optional>

namespace cgw::libvirt {
namespace {

constexpr log::Logger logger{"libvirt"};

using PoolStrand = net::strand<net::thread_pool::executor_type>;

// One host: its connection lives on its strand of the pool and is touched nowhere else.
struct Host {
  Host(HostSpec s, PoolStrand st) : spec(std::move(s)), strand(std::move(st)) {}
  HostSpec spec;
  PoolStrand strand;
  Connection connection;
};

// The rendezvous of one blocking call: the worker stores the result and cancels the
// timer, on the caller's executor; the caller waits on the timer, which also bounds the wait.
template <class T>
struct Rendezvous {
  explicit Rendezvous(net::any_io_executor ex) : timer(std::move(ex)) {}
  net::steady_timer timer;
  std::optional<T> result;
};

// Runs `work` on `where`, returns its result on the caller's executor, or nullopt
// once `timeout` has passed. `where` is taken by reference and used only before
// the first suspension: a frame still waiting when the server shuts down is
// destroyed with the event loop, after the pool, and must not own a pool strand.
template <class T, class Work>
net::awaitable<std::optional<T>> run_blocking(const PoolStrand& where, Work work,
                                              std::chrono::milliseconds timeout) {
  auto caller = co_await net::this_coro::executor;
  auto meeting = std::make_shared<Rendezvous<T>>(caller);
  meeting->timer.expires_after(timeout);
  net::post(where, [meeting, work = std::move(work)]() mutable {
    T value = work();
    net::post(meeting->timer.get_executor(), [meeting, value = std::move(value)]() mutable {
      meeting->result = std::move(value);
      meeting->timer.cancel();
    });
  });
  co_await meeting->timer.async_wait(net::as_tuple(net::use_awaitable));
  co_return std::move(meeting->result);
}

DomainLookup failure(DomainLookup::Status status, std::string reason) {
  DomainLookup out;
  out.status = status;
  out.reason = std::move(reason);
  return out;
}

// Opens the connection if there is none or it died. Runs on the host's strand.
bool ensure_connected(Host& host, const HypervisorOptions& options, std::string& error) {
  if (host.connection && virConnectIsAlive(host.connection.get()) == 1) return true;
  if (host.connection) {
    logger.warn("host=", host.spec.id, " connection lost; reconnecting");
    host.connection.reset();
  }
  virConnectPtr conn = virConnectOpenReadOnly(host.spec.uri.c_str());
  if (!conn) {
    error = LastError::take().message;
    return false;
  }
  host.connection.reset(conn);
  // Keepalive fails for drivers without a remote side (test:///); that is fine.
  if (virConnectSetKeepAlive(conn, options.keepalive_interval_s, options.keepalive_count) < 0) {
    virResetLastError();
  }
  logger.info("host=", host.spec.id, " connected to ", host.spec.uri);
  return true;
}

// The whole lookup, as one blocking job on the host's strand.
DomainLookup lookup_blocking(Host& host, const HypervisorOptions& options,
                             const std::string& uuid) {
  std::string error;
  if (!ensure_connected(host, options, error)) {
    return failure(DomainLookup::Status::unreachable,
                   "cannot connect to " + host.spec.uri + ": " + error);
  }
  Domain domain(virDomainLookupByUUIDString(host.connection.get(), uuid.c_str()));
  if (!domain) {
    LastError err = LastError::take();
    if (err.code == VIR_ERR_NO_DOMAIN || err.code == VIR_ERR_INVALID_ARG) {
      return failure(DomainLookup::Status::unknown_domain, err.message);
    }
    // Anything else means the connection is unusable: drop it, the next call reopens.
    host.connection.reset();
    return failure(DomainLookup::Status::unreachable, err.message);
  }
  const int active = virDomainIsActive(domain.get());
  char* xml = virDomainGetXMLDesc(domain.get(), 0);
  if (!xml) {
    LastError err = LastError::take();
    if (err.code == VIR_ERR_NO_DOMAIN)
      return failure(DomainLookup::Status::unknown_domain, err.message);
    host.connection.reset();
    return failure(DomainLookup::Status::unreachable, err.message);
  }
  std::optional<DomainXml> parsed = parse_domain_xml(xml);
  std::free(xml);
  if (!parsed)
    return failure(DomainLookup::Status::unreachable, "libvirt returned unreadable domain XML");
  DomainLookup out;
  out.running = active == 1;
  out.domain = std::move(*parsed);
  return out;
}

}  // namespace

struct Hypervisors::Impl {
  Impl(std::vector<HostSpec> specs, HypervisorOptions opts)
      : options(opts), pool(opts.threads == 0 ? 1 : opts.threads) {
    for (HostSpec& spec : specs) {
      std::string id = spec.id;
      hosts.emplace(std::move(id), std::make_unique<Host>(std::move(spec), net::make_strand(pool)));
    }
  }
  HypervisorOptions options;
  net::thread_pool pool;
  std::map<std::string, std::unique_ptr<Host>, std::less<>> hosts;
};

Hypervisors::Hypervisors(std::vector<HostSpec> hosts, HypervisorOptions options) {
  ensure_initialised();
  impl_ = std::make_unique<Impl>(std::move(hosts), options);
}

Hypervisors::~Hypervisors() {
  // Let calls already inside libvirt finish before the hosts they use go away.
  impl_->pool.join();
}

bool Hypervisors::has_host(const std::string& host_id) const {
  return impl_->hosts.find(host_id) != impl_->hosts.end();
}

net::awaitable<DomainLookup> Hypervisors::lookup(std::string host_id, std::string uuid) {
  auto it = impl_->hosts.find(host_id);
  if (it == impl_->hosts.end()) {
    co_return failure(DomainLookup::Status::unknown_host, "no host " + host_id);
  }
  Host* host = it->second.get();
  const HypervisorOptions* options = &impl_->options;
  auto job = [host, options, uuid = std::move(uuid)] {
    return lookup_blocking(*host, *options, uuid);
  };
  std::optional<DomainLookup> result =
      co_await run_blocking<DomainLookup>(host->strand, std::move(job), options->call_timeout);
  if (!result) {
    co_return failure(
        DomainLookup::Status::timed_out,
        "libvirt did not answer within " + std::to_string(options->call_timeout.count()) + " ms");
  }
  co_return std::move(*result);
}

}  // namespace cgw::libvirt
