#include "gateway/gateway_metrics.hpp"

#include "libvirt_adapter/hypervisors.hpp"
#include "tunnel/ssh_tunnels.hpp"

#include <chrono>
#include <utility>

namespace cgw::gateway {
namespace {

constexpr std::array all_refusals{
    Refusal::invalid_token,      Refusal::token_expired,
    Refusal::origin_not_allowed, Refusal::unknown_host_or_domain,
    Refusal::no_console,         Refusal::hypervisor_unreachable,
    Refusal::console_security,   Refusal::console_unreachable,
    Refusal::console_busy,       Refusal::replay_store_unavailable,
};

// The token component's reasons (token/verifier.cpp) and the gateway's own
// "missing token", each to a key; several phrases share one where an operator
// would act the same way.
constexpr std::pair<std::string_view, std::string_view> token_reasons[] = {
    {"missing token", "missing"},
    {"token too long", "too_long"},
    {"malformed token", "malformed"},
    {"algorithm not allowed", "algorithm_not_allowed"},
    {"unsupported crit header", "bad_header"},
    {"bad typ header", "bad_header"},
    {"bad signature", "bad_signature"},
    {"bad subject", "bad_subject"},
    {"missing exp claim", "bad_claim"},
    {"bad exp claim", "bad_claim"},
    {"bad nbf claim", "bad_claim"},
    {"bad console claim", "bad_claim"},
    {"bad view_only claim", "bad_claim"},
    {"bad record claim", "bad_claim"},
    {"bad jti claim", "bad_claim"},
    {"bad device claim", "bad_claim"},
    {"device claim without console serial", "bad_claim"},
    {"bad force claim", "bad_claim"},
    {"force claim without console serial", "bad_claim"},
    {"token already used", "replayed"},
    {"missing aud claim", "wrong_audience"},
    {"bad aud claim", "wrong_audience"},
    {"audience mismatch", "wrong_audience"},
    {"token expired", "expired"},
    {"token not yet valid", "not_yet_valid"},
    {"token lifetime exceeds max_ttl", "ttl_too_long"},
};

constexpr std::string_view paths[] = {"direct", "unix", "ssh", "libvirt"};
constexpr std::string_view outcomes[] = {"connected", "ended", "refused", "page"};

double unix_seconds_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string_view token_rejection_key(std::string_view reason) {
  for (const auto& [phrase, key] : token_reasons) {
    if (phrase == reason) return key;
  }
  return "other";
}

std::string_view refusal_key(Refusal refusal) {
  switch (refusal) {
    case Refusal::invalid_token:
      return "invalid_token";
    case Refusal::token_expired:
      return "token_expired";
    case Refusal::origin_not_allowed:
      return "origin_not_allowed";
    case Refusal::unknown_host_or_domain:
      return "unknown_host_or_domain";
    case Refusal::no_console:
      return "no_console";
    case Refusal::hypervisor_unreachable:
      return "hypervisor_unreachable";
    case Refusal::console_security:
      return "console_security";
    case Refusal::console_unreachable:
      return "console_unreachable";
    case Refusal::replay_store_unavailable:
      return "replay_store_unavailable";
    case Refusal::console_busy:
      return "console_busy";
    case Refusal::console_taken_over:
      return "console_taken_over";
  }
  return "other";
}

const std::vector<double>& GatewayMetrics::setup_buckets() {
  static const std::vector<double> bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
  return bounds;
}

GatewayMetrics::GatewayMetrics(metrics::Registry& registry, HostStateSources hosts,
                               std::string_view version)
    : GatewayMetrics(
          registry,
          [fixed = std::make_shared<const HostStateSources>(std::move(hosts))] { return fixed; },
          false, version) {}

GatewayMetrics::GatewayMetrics(metrics::Registry& registry, CurrentHostStates hosts,
                               std::string_view version)
    : GatewayMetrics(registry, std::move(hosts), true, version) {}

GatewayMetrics::GatewayMetrics(metrics::Registry& registry, CurrentHostStates hosts,
                               bool ssh_family, std::string_view version)
    : hosts_(std::move(hosts)),
      active_(registry.gauge("console_gw_sessions_active", "Consoles open now.").with({})),
      bytes_(registry.counter("console_gw_session_bytes_total",
                              "Console bytes carried each way, counted when a session ends.",
                              {"direction"})),
      to_console_(bytes_.with({"to_console"})),
      to_client_(bytes_.with({"to_client"})),
      duration_(registry
                    .histogram("console_gw_session_duration_seconds",
                               "How long consoles stayed open.",
                               {1, 10, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400})
                    .with({})) {
  // Every series of a fixed set exists from the start, at zero, so that a
  // rate() or an alert sees the first event.
  auto& sessions = registry.counter(
      "console_gw_sessions_total",
      "Console requests by outcome: connected (the pump started), ended, refused, page "
      "(the console page served).",
      {"outcome"});
  for (std::string_view name : outcomes) outcomes_.emplace(name, &sessions.with({name}));

  auto& refusals = registry.counter("console_gw_refusals_total",
                                    "Refused console requests by close code.", {"code", "reason"});
  for (Refusal r : all_refusals) {
    refusals_.emplace(r,
                      &refusals.with({std::to_string(close_code(r)), std::string(refusal_key(r))}));
  }

  auto& rejections =
      registry.counter("console_gw_token_rejections_total",
                       "Tokens refused (close codes 4401 and 4402) by reason.", {"reason"});
  for (const auto& [phrase, key] : token_reasons) {
    if (!token_rejections_.contains(key)) token_rejections_.emplace(key, &rejections.with({key}));
  }
  token_rejections_.emplace("other", &rejections.with({"other"}));

  auto& setup =
      registry.histogram("console_gw_session_setup_seconds",
                         "From the accepted connection to the console's pump starting, by path.",
                         setup_buckets(), {"path"});
  for (std::string_view path : paths) setup_.emplace(path, &setup.with({path}));

  const CurrentHostStates* current = &hosts_;
  registry.gauge_callback(
      "console_gw_libvirt_connected",
      "1 while the gateway holds a libvirt connection to the host that was alive when last used; "
      "0 before first use and after it was lost.",
      {"host"}, [current] {
        const std::shared_ptr<const HostStateSources> sources = (*current)();
        std::vector<metrics::Sample> samples;
        for (const std::string& host : sources->hosts) {
          samples.push_back({{host}, sources->hypervisors.connected(host) ? 1.0 : 0.0});
        }
        return samples;
      });
  if (ssh_family || !hosts_()->ssh_hosts.empty()) {
    registry.gauge_callback(
        "console_gw_ssh_connected",
        "1 while the gateway's SSH session to the host is up (opened on first use, closed "
        "when idle).",
        {"host"}, [current] {
          const std::shared_ptr<const HostStateSources> sources = (*current)();
          std::vector<metrics::Sample> samples;
          for (const std::string& host : sources->ssh_hosts) {
            const bool up = sources->ssh && sources->ssh->live_sessions(host) > 0;
            samples.push_back({{host}, up ? 1.0 : 0.0});
          }
          return samples;
        });
  }

  registry
      .gauge("console_gw_build_info", "The running console-gw's version; always 1.", {"version"})
      .with({version})
      .set(1);
  registry.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.")
      .with({})
      .set(unix_seconds_now());
}

void GatewayMetrics::refused(const SessionInfo&, const Refused& refusal) {
  outcomes_.find("refused")->second->inc();
  if (auto found = refusals_.find(refusal.code); found != refusals_.end()) found->second->inc();
  if (refusal.code == Refusal::invalid_token || refusal.code == Refusal::token_expired) {
    token_rejections_.find(token_rejection_key(refusal.reason))->second->inc();
  }
}

void GatewayMetrics::page_served(const SessionInfo&, ConsoleKind) {
  outcomes_.find("page")->second->inc();
}

void GatewayMetrics::connected(const SessionInfo& session, const ConsoleOpened& console) {
  outcomes_.find("connected")->second->inc();
  active_.inc();
  if (auto found = setup_.find(session.path); found != setup_.end()) {
    found->second->observe(std::chrono::duration<double>(console.setup).count());
  }
}

void GatewayMetrics::ended(const SessionInfo&, const SessionEnded& end) {
  outcomes_.find("ended")->second->inc();
  active_.dec();
  to_console_.inc(end.to_console);
  to_client_.inc(end.to_client);
  duration_.observe(std::chrono::duration<double>(end.duration).count());
}

bool MetricsEndpoint::allows(const boost::asio::ip::address& peer) const {
  if (!registry) return false;
  for (const Cidr& block : allow) {
    if (block.contains(peer)) return true;
  }
  return false;
}

}  // namespace cgw::gateway
