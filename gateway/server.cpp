#include "gateway/server.hpp"

#include "common/log.hpp"
#include "gateway/admission.hpp"
#include "gateway/console_security.hpp"
#include "gateway/credentials.hpp"
#include "gateway/gateway_metrics.hpp"
#include "gateway/host_set.hpp"
#include "gateway/recording.hpp"
#include "gateway/redis_replay_store.hpp"
#include "gateway/reload.hpp"
#include "gateway/replay_guard.hpp"
#include "gateway/request_rules.hpp"
#include "gateway/service_notify.hpp"
#include "gateway/services.hpp"
#include "gateway/session.hpp"
#include "gateway/session_events.hpp"
#include "gateway/session_registry.hpp"
#include "libvirt_adapter/hypervisors.hpp"
#include "libvirt_console/stream_opener.hpp"
#include "token/token.hpp"
#include "tunnel/connector.hpp"
#include "tunnel/ssh_tunnels.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr log::Logger logger{"gateway"};

std::string origin_of(const Config& config) {
  return config.file.empty() ? "command line" : config.file;
}

// Host sets no session uses any more are destroyed on a thread of their own:
// Hypervisors' destructor waits for libvirt calls still running, which must
// not hold up a network thread. The last ones go before the Server is gone.
struct HostSetRetirement {
  net::thread_pool pool{1};
  ~HostSetRetirement() { pool.join(); }
  HostSetRetirer retirer() {
    return [this](HostSet* done) { net::post(pool, [done] { delete done; }); };
  }
};

AdmissionLimits admission_limits(const LimitsConfig& l) {
  AdmissionLimits a;
  a.max_sessions = l.max_sessions;
  a.max_sessions_per_client = l.max_sessions_per_client;
  a.max_handshakes = l.max_handshakes;
  a.max_handshakes_per_peer = l.max_handshakes_per_peer;
  a.handshake_rate = l.handshake_rate;
  a.handshake_burst = l.handshake_burst;
  return a;
}

// One-time tokens' IDs: in this process, or in the Redis that the gateways
// share. Throws ConfigError when the password file can't be read.
std::unique_ptr<ReplayStore> make_replay_store(const Config& config) {
  if (config.replay_store.empty()) return std::make_unique<ReplayGuard>();
  RedisStoreOptions options = redis_store_options(config);
  logger.info("one-time tokens: shared in redis at ", options.target.where());
  return std::make_unique<RedisReplayStore>(std::move(options));
}

}  // namespace

struct Server::Impl {
  explicit Impl(Config c)
      : config(std::move(c)),
        threads(config.threads ? config.threads
                               : std::max(1u, std::thread::hardware_concurrency())),
        admission(admission_limits(config.limits)),
        contexts(make_contexts(threads)),
        ioc(*contexts.front()),
        credentials(load_credentials(config)),
        replay(make_replay_store(config)),
        // Always there: a reload may add a host reached through SSH.
        ssh_tunnels(
            std::make_shared<tunnel::SshTunnels>(ioc.get_executor(), tunnel::SshTunnelOptions{})),
        hosts(load_host_set(config, nullptr, ssh_tunnels.get(), retirement.retirer())),
        connector(tunnel::ConnectorOptions{config.connect_timeout}, ssh_tunnels),
        stream_opener(libvirt_console::StreamOpenerOptions{config.libvirt_timeout}),
        acceptor(ioc),
        origin_policy{config.public_host, config.allowed_origins},
        services{config,
                 credentials,
                 hosts,
                 origin_policy,
                 replay.get(),
                 ConsoleOpeners{connector, &stream_opener},
                 events,
                 sessions,
                 TrustedProxies(config.trusted_proxies),
                 {},
                 {},
                 {},
                 {},
                 metrics_endpoint(config, metrics)} {
    const std::vector<std::filesystem::path> link_roots(config.static_link_roots.begin(),
                                                        config.static_link_roots.end());
    if (!config.web.empty()) services.web.emplace(config.web, link_roots);
    // The browser clients: served when installed (Debian's novnc and spice-html5).
    if (std::filesystem::is_directory(config.novnc_dir))
      services.novnc.emplace(config.novnc_dir, link_roots);
    if (std::filesystem::is_directory(config.spice_dir))
      services.spice.emplace(config.spice_dir, link_roots);
    if (std::filesystem::is_directory(config.xterm_dir))
      services.xterm.emplace(config.xterm_dir, link_roots);
    events.add(session_log);
    events.add(gateway_metrics);
    services.admission = &admission;
    services.recorder = &recorder;
    services.pump_options = session_pump_options(config);
    admission.expose(metrics);
    if (auto* redis = dynamic_cast<RedisReplayStore*>(replay.get())) redis->expose(metrics);
  }

  // One io_context per network thread, each run by its thread alone: a session
  // lives on one of them, so its handlers never contend for a lock or wake
  // another thread, and need no strand.
  static std::vector<std::unique_ptr<net::io_context>> make_contexts(unsigned n) {
    std::vector<std::unique_ptr<net::io_context>> all;
    for (unsigned i = 0; i < n; ++i) all.push_back(std::make_unique<net::io_context>(1));
    return all;
  }

  // The context for the next connection, in turn.
  net::io_context& next_context() { return *contexts[next_context_index++ % contexts.size()]; }

  void stop_contexts() {
    for (auto& guard : guards) guard.reset();
    for (auto& context : contexts) context->stop();
  }

  static CurrentHostStates current_host_states(const CurrentHostSet& hosts) {
    return [&hosts]() -> std::shared_ptr<const HostStateSources> {
      std::shared_ptr<const HostSet> set = hosts.get();
      const HostStateSources* states = &set->states;
      return {std::move(set), states};
    };
  }

  static MetricsEndpoint metrics_endpoint(const Config& config, const metrics::Registry& registry) {
    MetricsEndpoint endpoint;
    if (config.metrics_allow.empty()) return endpoint;  // no /metrics
    endpoint.registry = &registry;
    for (const std::string& cidr : config.metrics_allow) {
      if (auto block = parse_cidr(cidr)) endpoint.allow.push_back(*block);
    }
    return endpoint;
  }

  // Declared first, so that it goes last: every host set ends on its thread.
  HostSetRetirement retirement;
  Config config;
  unsigned threads;
  // Outlives the io_contexts: a session that registered after the drain had
  // finished is destroyed with its io_context, and its entry then leaves here.
  SessionRegistry sessions;
  // Outlives the io_contexts too: the sessions destroyed with them give back
  // their admission tickets.
  Admission admission;
  // Outlives the io_contexts as well: the sessions destroyed with them close
  // their recordings, which the writer finishes before it stops.
  Recorder recorder{config.recording};
  // Declared before everything that posts to them. The first also runs the
  // acceptor, signals and the stop.
  std::vector<std::unique_ptr<net::io_context>> contexts;
  net::io_context& ioc;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
  std::size_t next_context_index = 0;   // used by the acceptor only
  CurrentCredentials credentials;       // a reload replaces them
  std::unique_ptr<ReplayStore> replay;  // one-time tokens' IDs, until they expire
  std::shared_ptr<tunnel::SshTunnels> ssh_tunnels;
  CurrentHostSet hosts;  // a reload replaces them
  // What `hosts` was built from (config.hosts is the configuration at start).
  std::vector<HostConfig> hosts_config{config.hosts};
  std::mutex reload_mutex;  // reload() from any thread: one at a time
  tunnel::Connector connector;
  // Serial consoles: libvirt streams on connections of its own.
  libvirt_console::StreamOpener stream_opener;
  tcp::acceptor acceptor;
  OriginPolicy origin_policy;
  // The sessions' events go to the log and to the metrics.
  SessionLogWriter session_log;
  metrics::Registry metrics;
  GatewayMetrics gateway_metrics{metrics, current_host_states(hosts), CGW_VERSION};
  SessionEventsFanout events;
  Services services;
  std::atomic<std::uint64_t> next_session{1};
  std::optional<net::signal_set> signals;
  std::optional<net::signal_set> reload_signals;  // SIGHUP
  std::function<Config()> read_config;            // for SIGHUP
  std::optional<net::steady_timer> drain_timer;
  bool draining = false;  // drain(): no new connections, consoles still open
};

namespace {

constexpr auto drain_limit = std::chrono::seconds(5);

net::awaitable<void> drain_then_stop(Server::Impl* impl) {
  const auto deadline = std::chrono::steady_clock::now() + drain_limit;
  while (impl->sessions.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    impl->drain_timer->expires_after(std::chrono::milliseconds(20));
    co_await impl->drain_timer->async_wait(net::as_tuple(net::use_awaitable));
  }
  impl->ssh_tunnels->shutdown();
  impl->stop_contexts();
}

// Accepts until the acceptor closes. Errors such as EMFILE do not end it: it
// logs, waits a moment for descriptors to free up, and goes on.
net::awaitable<void> accept_loop(Server::Impl* impl) {
  tcp::acceptor& acceptor = impl->acceptor;
  Services& services = impl->services;
  std::atomic<std::uint64_t>& next_session = impl->next_session;
  net::steady_timer backoff(acceptor.get_executor());
  // While accept fails (EMFILE: out of descriptors), one line on the first
  // failure and then one every 10 s with the count, not one per retry.
  constexpr auto log_every = std::chrono::seconds(10);
  std::chrono::steady_clock::time_point last_logged{};
  std::uint64_t failures = 0;
  for (;;) {
    // Each connection goes to the next thread's io_context and stays there.
    auto [ec, socket] =
        co_await acceptor.async_accept(impl->next_context(), net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      ++failures;
      const auto now = std::chrono::steady_clock::now();
      if (failures == 1 || now - last_logged >= log_every) {
        logger.warn("accept failed: ", ec.message(), " (", failures,
                    failures == 1 ? " time" : " times",
                    " so far); retrying every 100 ms, open consoles go on");
        last_logged = now;
      }
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    if (failures > 0) {
      logger.info("accepting again after ", failures, " failed accept(s)");
      failures = 0;
    }
    const std::uint64_t id = next_session.fetch_add(1);
    auto executor = socket.get_executor();
    net::co_spawn(executor, run_session(std::move(socket), services, id), report_session_end);
  }
}

}  // namespace

Server::Server(Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() = default;

void Server::start() {
  const Config& config = impl_->config;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(config.listen, ec);
  if (ec)
    throw ConfigError(origin_of(config) + ": gateway.listen: not an IP address: " + config.listen);
  const tcp::endpoint endpoint(address, config.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol());
  acceptor.set_option(net::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(net::socket_base::max_listen_connections);
  const bool tls = impl_->credentials.get()->tls != nullptr;
  logger.info("listening on ", config.listen, ":", port(), tls ? " (ws and wss)" : " (ws)",
              config.ssl_only ? ", TLS only" : "", " with ", impl_->threads, " threads, ",
              config.hosts.size(), " host(s)");
  net::co_spawn(impl_->ioc, accept_loop(impl_.get()), net::detached);
  service_notify::ready("listening on " + config.listen + ":" + std::to_string(port()));
}

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
  impl_->guards.clear();
  for (auto& context : impl_->contexts) impl_->guards.push_back(net::make_work_guard(*context));
  std::vector<std::thread> workers;
  for (std::size_t i = 1; i < impl_->contexts.size(); ++i) {
    workers.emplace_back([context = impl_->contexts[i].get()] { context->run(); });
  }
  impl_->ioc.run();
  for (auto& t : workers) t.join();
}

namespace {

// The first SIGTERM or SIGINT drains, the next one stops at once.
void await_stop_signal(Server* server, Server::Impl* impl, bool draining) {
  impl->signals->async_wait(
      [server, impl, draining](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (draining || impl->config.drain_timeout.count() == 0) {
          logger.info("signal ", signal, ": stopping");
          service_notify::stopping();
          server->stop();
          return;
        }
        logger.info("signal ", signal, ": draining (again to stop at once)");
        service_notify::stopping();
        server->drain(impl->config.drain_timeout);
        await_stop_signal(server, impl, true);
      });
}

// Waits until every console has ended or the deadline passed, then stops.
net::awaitable<void> drain_sessions(Server* server, Server::Impl* impl,
                                    std::chrono::steady_clock::time_point deadline) {
  net::steady_timer tick(impl->ioc);
  while (impl->sessions.size() > 0 && std::chrono::steady_clock::now() < deadline &&
         !impl->drain_timer) {
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(net::as_tuple(net::use_awaitable));
  }
  if (impl->drain_timer) co_return;  // stop() came first
  const std::size_t open = impl->sessions.size();
  if (open > 0) logger.info("drain deadline passed with ", open, " console(s) open");
  server->stop();
}

}  // namespace

void Server::stop_on_signals() {
  impl_->signals.emplace(impl_->ioc, SIGINT, SIGTERM);
  await_stop_signal(this, impl_.get(), false);
}

void Server::drain(std::chrono::milliseconds deadline) {
  net::post(impl_->ioc, [this, impl = impl_.get(), deadline] {
    if (impl->drain_timer || impl->draining) return;  // already stopping
    impl->draining = true;
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    if (impl->reload_signals) impl->reload_signals->cancel(ignored);
    const double seconds = std::chrono::duration<double>(deadline).count();
    logger.info("draining: no new connections; ", impl->sessions.size(),
                " console(s) open may run for ", seconds, " s");
    net::co_spawn(impl->ioc,
                  drain_sessions(this, impl, std::chrono::steady_clock::now() + deadline),
                  net::detached);
  });
}

namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string describe(const HostChanges& changes) {
  if (changes.empty()) return "hosts unchanged";
  std::string out;
  const auto part = [&out](const char* what, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    out += (out.empty() ? "hosts " : "; ") + std::string(what) + ": " + joined(ids);
  };
  part("added", changes.added);
  part("removed", changes.removed);
  part("changed", changes.changed);
  return out;
}

}  // namespace

void Server::reload(const Config& next) {
  Impl& impl = *impl_;
  const std::lock_guard one_at_a_time(impl.reload_mutex);
  // Everything is loaded before anything changes: a broken file changes nothing.
  log::Level level{};
  if (!log::parse_level(next.log_level, level)) {
    throw ConfigError(origin_of(next) + ": gateway.log_level: must be debug, info, warn or error");
  }
  std::shared_ptr<const Credentials> loaded = load_credentials(next);
  // Unchanged hosts keep their libvirt connections. The old set lives on in
  // the sessions that took it, and goes (on the retirement thread) with the last.
  std::shared_ptr<const HostSet> hosts = load_host_set(
      next, impl.hosts.get().get(), impl.ssh_tunnels.get(), impl.retirement.retirer());
  const HostChanges changes = host_changes(impl.hosts_config, next.hosts);
  impl.credentials.replace(std::move(loaded));
  impl.hosts.replace(std::move(hosts));
  impl.hosts_config = next.hosts;
  log::set_level(level);
  const std::vector<std::string> fixed = restart_only_changes(impl.config, next);
  logger.info(
      "reloaded ", origin_of(next), ": token key, TLS certificate, log level; ", describe(changes),
      fixed.empty() ? "" : "; changed but needs a restart (still as before): ", joined(fixed));
}

namespace {

void await_reload_signal(Server* server, Server::Impl* impl) {
  impl->reload_signals->async_wait([server, impl](const boost::system::error_code& ec, int) {
    if (ec) return;
    logger.info("signal SIGHUP: reloading the configuration");
    service_notify::reloading();
    try {
      server->reload(impl->read_config());
      service_notify::ready("reloaded; listening on port " + std::to_string(server->port()));
    } catch (const ConfigError& e) {
      logger.error("reload refused: ", e.what(), "; still serving the previous configuration");
      service_notify::ready("reload refused; serving the previous configuration");
    }
    await_reload_signal(server, impl);
  });
}

}  // namespace

void Server::reload_on_sighup(std::function<Config()> read) {
  impl_->read_config = std::move(read);
  impl_->reload_signals.emplace(impl_->ioc, SIGHUP);
  await_reload_signal(this, impl_.get());
}

void Server::stop() {
  net::post(impl_->ioc, [impl = impl_.get()] {
    if (impl->drain_timer) return;  // already stopping
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
    if (impl->signals) impl->signals->cancel(ignored);
    if (impl->reload_signals) impl->reload_signals->cancel(ignored);
    // Open consoles are told 1001 "gateway restarting" and given a moment to
    // finish their close handshakes; then everything else is cut.
    const std::size_t open = impl->sessions.end_all();
    if (open > 0) logger.info("stopping: closing ", open, " console(s)");
    impl->drain_timer.emplace(impl->ioc);
    net::co_spawn(impl->ioc, drain_then_stop(impl), net::detached);
  });
}

}  // namespace cgw::gateway
