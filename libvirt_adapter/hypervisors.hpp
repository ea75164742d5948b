// Hypervisors: the gateway's libvirt connections, one per configured host.
//
// A connection is opened (read-only unless the host's XML is read with its
// secrets) on first use, kept alive with libvirt's
// keepalive, checked before each use and reopened when dead. Every libvirt call
// runs on threads of the host's own, never on a network thread, several at once
// over the one connection (libvirt connections are thread-safe; the remote
// driver multiplexes calls), so a slow or dead hypervisor ties up its own
// threads and no other host. Each lookup has a time limit: when it passes, the caller
// gets `timed_out` at once, even if libvirt is still blocked.
//
// lookup() may be called from any executor and completes on the caller's. The
// object must outlive every lookup and the executors they complete on must
// outlive it: the destructor waits for calls still inside libvirt, for at most
// call_timeout; a host whose call is still blocked then is left to it, never
// freed (a stop must not hang on a hypervisor that does). It may so block for
// up to call_timeout: don't run it on a network thread.
//
// A reload builds a new Hypervisors from the previous one: a host whose spec is
// unchanged keeps its connection and threads, shared by both objects, and is
// closed when the last of them goes.
#pragma once

#include "libvirt_adapter/domain_xml.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::libvirt {

struct HostSpec {
  std::string id;
  std::string uri;
  // Read the XML with VIR_DOMAIN_XML_SECURE (graphics passwords), which needs a
  // read-write connection; otherwise the connection is read-only.
  bool secure_xml = false;
};

struct HypervisorOptions {
  std::chrono::milliseconds call_timeout{10'000};
  // Each host's libvirt calls run on threads of its own; this many of them may
  // run at once. With one, a lookup waits while the thread is off the CPU (a
  // busy machine) or in a slow call: the session set-up's tail (docs/benchmarks.md).
  unsigned threads_per_host = 4;
  int keepalive_interval_s = 5;  // libvirt keepalive: probe after this idle time
  unsigned keepalive_count = 3;  // and give up after this many unanswered probes
};

struct DomainLookup {
  enum class Status {
    ok,
    unknown_host,    // no host with that ID is configured
    unknown_domain,  // the host has no domain with that UUID
    unreachable,     // libvirt could not be reached or failed
    timed_out,       // libvirt did not answer within call_timeout
  };
  Status status = Status::ok;
  std::string reason;  // for the log (libvirt's message); not sent to the browser
  bool running = false;
  DomainXml domain;
};

class Hypervisors {
 public:
  Hypervisors(std::vector<HostSpec> hosts, HypervisorOptions options);
  // Shares `previous`'s connection and threads for each host with an equal
  // spec; `previous` may then be destroyed at any time.
  Hypervisors(std::vector<HostSpec> hosts, HypervisorOptions options, const Hypervisors& previous);
  ~Hypervisors();
  Hypervisors(const Hypervisors&) = delete;
  Hypervisors& operator=(const Hypervisors&) = delete;

  bool has_host(const std::string& host_id) const;

  // Whether both use the same connection and threads for the host.
  bool shares_host(const Hypervisors& other, std::string_view host_id) const;

  // Whether a connection to the host is open and was alive when last used (it
  // is opened on first use). Reads one atomic: cheap, never blocks, any thread.
  bool connected(std::string_view host_id) const;

  // Finds the domain by UUID on the host and reads its live XML.
  boost::asio::awaitable<DomainLookup> lookup(std::string host_id, std::string uuid);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgw::libvirt
