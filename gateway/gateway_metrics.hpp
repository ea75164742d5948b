// GatewayMetrics: the gateway's metrics (console_gw_*), kept in a
// metrics::Registry and exposed at GET <base>/metrics.
//
// A SessionEvents listener, next to the session log: it counts sessions by
// outcome, refusals by close code, token rejections by reason, bytes each way,
// and set-up latency by path. The state of each host's libvirt connection and
// SSH session is read from Hypervisors and SshTunnels at each scrape.
//
// Label values come from fixed sets (close codes, reason keys, paths) and the
// configured host IDs; never from a request (no client, no UUID), so the
// number of series is bounded by the configuration.
//
// Events may come from every network thread at once: each updates atomics
// found at construction, and takes no lock.
#pragma once

#include "gateway/session_events.hpp"
#include "gateway/trusted_proxies.hpp"
#include "metrics/registry.hpp"

#include <boost/asio/ip/address.hpp>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::libvirt {
class Hypervisors;
}
namespace cgw::tunnel {
class SshTunnels;
}

namespace cgw::gateway {

struct Config;

// The hosts whose connections are reported, and where their state is read.
// Both must outlive the GatewayMetrics; `ssh` may be null (no SSH host).
struct HostStateSources {
  const libvirt::Hypervisors& hypervisors;
  const tunnel::SshTunnels* ssh = nullptr;
  std::vector<std::string> hosts;      // every configured host ID
  std::vector<std::string> ssh_hosts;  // those that use SSH
};

// Where each scrape finds the hosts of the moment (a reload replaces them);
// what it returns is kept alive for the scrape.
using CurrentHostStates = std::function<std::shared_ptr<const HostStateSources>()>;

class GatewayMetrics final : public SessionEvents {
 public:
  // Hosts fixed for the GatewayMetrics' lifetime; no SSH family without an SSH host.
  GatewayMetrics(metrics::Registry& registry, HostStateSources hosts, std::string_view version);
  // Hosts read at each scrape (the SSH family always exists, empty without an SSH host).
  GatewayMetrics(metrics::Registry& registry, CurrentHostStates hosts, std::string_view version);

  void refused(const SessionInfo& session, const Refused& refusal) override;
  void page_served(const SessionInfo& session, ConsoleKind console) override;
  void connected(const SessionInfo& session, const ConsoleOpened& console) override;
  void ended(const SessionInfo& session, const SessionEnded& end) override;

  // The session set-up histogram's bounds (seconds): 1 ms to 10 s.
  static const std::vector<double>& setup_buckets();

 private:
  GatewayMetrics(metrics::Registry& registry, CurrentHostStates hosts, bool ssh_family,
                 std::string_view version);

  CurrentHostStates hosts_;
  metrics::Gauge& active_;
  std::map<std::string, metrics::Counter*, std::less<>> outcomes_;
  std::map<Refusal, metrics::Counter*> refusals_;
  std::map<std::string, metrics::Counter*, std::less<>> token_rejections_;
  metrics::Family<metrics::Counter>& bytes_;
  metrics::Counter& to_console_;
  metrics::Counter& to_client_;
  std::map<std::string, metrics::Histogram*, std::less<>> setup_;
  metrics::Histogram& duration_;
};

// The bounded key of a token rejection, from the token component's fixed
// reason phrase: "expired", "bad_signature", "malformed", ...; "other" for
// a phrase it does not know.
std::string_view token_rejection_key(std::string_view reason);

// Refusal's name as a label value: "invalid_token", "token_expired", ...
std::string_view refusal_key(Refusal refusal);

// Who may read /metrics, and what it reads.
struct MetricsEndpoint {
  const metrics::Registry* registry = nullptr;  // null: metrics are off
  std::vector<Cidr> allow;                      // matched against the TCP peer

  bool allows(const boost::asio::ip::address& peer) const;
};

}  // namespace cgw::gateway
