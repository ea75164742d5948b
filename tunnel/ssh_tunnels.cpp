#include "tunnel/ssh_tunnels.hpp"

#include "common/log.hpp"
#include "tunnel/ssh_channel_stream.hpp"
#include "tunnel/ssh_session.hpp"
#include "tunnel/ssh_wakeup.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <vector>

namespace cgw::tunnel {

namespace net = boost::asio;
namespace {

using Kind = ConnectResult::Failure;
const log::Logger logger("tunnel");

constexpr auto failed = &ConnectResult::failed;

bool same_settings(const SshSettings& a, const SshSettings& b) {
  return a.host == b.host && a.port == b.port && a.user == b.user && a.key_file == b.key_file &&
         a.use_agent == b.use_agent && a.known_hosts == b.known_hosts;
}

std::string describe(const SshSettings& ssh, const ConsolePath& path) {
  std::string via =
      "ssh " + (ssh.user.empty() ? "" : ssh.user + "@") + ssh.host + ":" + std::to_string(ssh.port);
  if (path.kind == ConsolePath::Kind::ssh_unix) return via + " unix " + path.socket_path;
  const bool v6 = path.address.find(':') != std::string::npos;
  return via + " tcp " + (v6 ? "[" + path.address + "]" : path.address) + ":" +
         std::to_string(path.port);
}

}  // namespace

// Everything about one host's SSH: its strand, on which its sessions live, the
// current session, and the connection attempt in progress, which concurrent
// opens share instead of each opening a connection of their own.
class SshTunnels::Host : public std::enable_shared_from_this<Host> {
 public:
  Host(const net::any_io_executor& executor, SshTunnelOptions options)
      : strand_(net::make_strand(executor)), options_(options) {}

  const net::any_io_executor& strand() const noexcept { return strand_; }
  std::size_t live() const noexcept { return live_.load(std::memory_order_relaxed); }

  static net::awaitable<ConnectResult> open(std::shared_ptr<Host> self, SshSettings settings,
                                            ConsolePath path);
  // On the strand.
  void shutdown();

 private:
  // One connection attempt, whose result every opener that waited for it gets.
  struct Round {
    Round(const net::any_io_executor& executor, SshSettings wanted)
        : settings(std::move(wanted)), done(executor) {}
    SshSettings settings;
    bool finished = false;
    bool abandoned = false;  // the connecting coroutine was cancelled: try again
    std::shared_ptr<SshSession> session;
    SshSession::Failure failure;
    WakeAll done;
  };
  struct Lease {
    std::shared_ptr<SshSession> session;
    SshSession::Failure failure;
    bool reused = false;  // connected earlier: may have died unnoticed
  };

  net::awaitable<Lease> session_for(SshSettings settings);
  net::awaitable<Lease> connect(SshSettings settings);

  net::any_io_executor strand_;
  SshTunnelOptions options_;
  std::vector<std::shared_ptr<SshSession>> sessions_;  // the newest is the current one
  std::shared_ptr<Round> round_;
  std::shared_ptr<SshSession> connecting_;
  bool shut_down_ = false;
  std::atomic<std::size_t> live_{0};
};

net::awaitable<ConnectResult> SshTunnels::Host::open(std::shared_ptr<Host> self,
                                                     SshSettings settings, ConsolePath path) {
  const std::string description = describe(settings, path);
  for (int attempt = 0;; ++attempt) {
    Lease lease = co_await self->session_for(settings);
    if (!lease.session) co_return failed(lease.failure.kind, lease.failure.reason, description);
    SshSession::Opened opened = co_await lease.session->open_channel(path);
    if (opened.channel) {
      logger.debug("SSH channel open: ", description);
      ConnectResult result;
      result.stream = std::make_unique<SshChannelStream>(lease.session, opened.channel);
      result.description = description;
      co_return result;
    }
    // A session that has been idle may have died without anyone noticing; that is
    // no reason to fail this console, so try once on a fresh connection.
    if (opened.session_lost && lease.reused && attempt == 0) continue;
    if (opened.failure.kind == Kind::console_unreachable) {
      logger.warn("SSH channel to ", description, " refused: ", opened.failure.reason);
    }
    co_return failed(opened.failure.kind, opened.failure.reason, description);
  }
}

net::awaitable<SshTunnels::Host::Lease> SshTunnels::Host::session_for(SshSettings settings) {
  for (;;) {
    if (shut_down_) {
      co_return Lease{nullptr, {Kind::hypervisor_unreachable, "SSH tunnel shut down"}, false};
    }
    std::erase_if(sessions_, [](const auto& session) { return !session->alive(); });
    if (!sessions_.empty() && same_settings(sessions_.back()->settings(), settings)) {
      co_return Lease{sessions_.back(), {}, true};
    }
    if (!round_) co_return co_await connect(std::move(settings));
    // Someone is connecting already: share the outcome when it is for the same settings.
    std::shared_ptr<Round> round = round_;
    while (!round->finished) co_await round->done.wait();
    if (!round->abandoned && same_settings(round->settings, settings)) {
      co_return Lease{round->session, round->failure, false};
    }
  }
}

net::awaitable<SshTunnels::Host::Lease> SshTunnels::Host::connect(SshSettings settings) {
  auto round = std::make_shared<Round>(strand_, settings);
  round_ = round;
  // Whoever waits for this round learns of its end, even if this coroutine is cancelled.
  struct Finish {
    Host& host;
    Round& round;
    ~Finish() {
      if (!round.finished) round.abandoned = true;
      round.finished = true;
      round.done.notify_all();
      if (host.round_.get() == &round) host.round_.reset();
      host.connecting_.reset();
    }
  } finish{*this, *round};

  auto session = std::make_shared<SshSession>(strand_, std::move(settings), options_);
  connecting_ = session;
  std::optional<SshSession::Failure> failure = co_await session->connect();
  if (!failure && shut_down_) {
    session->close("shutting down");
    failure = SshSession::Failure{Kind::hypervisor_unreachable, "SSH tunnel shut down"};
  }
  if (failure) {
    round->failure = *failure;
    round->finished = true;
    co_return Lease{nullptr, *failure, false};
  }
  live_.fetch_add(1, std::memory_order_relaxed);
  session->on_dead([weak = weak_from_this()] {
    if (auto host = weak.lock()) host->live_.fetch_sub(1, std::memory_order_relaxed);
  });
  sessions_.push_back(session);
  round->session = session;
  round->finished = true;
  co_return Lease{std::move(session), {}, false};
}

void SshTunnels::Host::shutdown() {
  shut_down_ = true;
  if (connecting_) connecting_->close("shutting down");
  for (auto& session : sessions_) session->close("shutting down");
  sessions_.clear();
}

SshTunnels::SshTunnels(net::any_io_executor executor, SshTunnelOptions options)
    : executor_(std::move(executor)), options_(options) {
  ensure_libssh2_initialised();
}

SshTunnels::~SshTunnels() { shutdown(); }

std::shared_ptr<SshTunnels::Host> SshTunnels::host_for(const std::string& id) {
  std::lock_guard lock(mutex_);
  if (shut_down_) return nullptr;
  auto& host = hosts_[id];
  if (!host) host = std::make_shared<Host>(executor_, options_);
  return host;
}

net::awaitable<ConnectResult> SshTunnels::open(const HostRoute& host, const ConsolePath& path) {
  // Copied before the first suspension: the caller's objects need not outlive it.
  if (!host.ssh) {
    co_return failed(Kind::needs_ssh, "console needs the SSH tunnel", "ssh " + host.id);
  }
  SshSettings settings = *host.ssh;
  ConsolePath console = path;
  if (console.kind != ConsolePath::Kind::ssh_tcp && console.kind != ConsolePath::Kind::ssh_unix) {
    co_return failed(Kind::console_unreachable, "not an SSH console path",
                     describe(settings, console));
  }
  std::shared_ptr<Host> tunnel = host_for(host.id);
  if (!tunnel) {
    co_return failed(Kind::hypervisor_unreachable, "SSH tunnel shut down",
                     describe(settings, console));
  }
  const net::any_io_executor strand = tunnel->strand();
  co_return co_await net::co_spawn(
      strand, Host::open(std::move(tunnel), std::move(settings), std::move(console)),
      net::use_awaitable);
}

std::size_t SshTunnels::live_sessions(std::string_view host_id) const {
  std::lock_guard lock(mutex_);
  auto found = hosts_.find(std::string(host_id));
  return found == hosts_.end() ? 0 : found->second->live();
}

void SshTunnels::shutdown() {
  std::vector<std::shared_ptr<Host>> hosts;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    shut_down_ = true;
    for (const auto& [id, host] : hosts_) hosts.push_back(host);
  }
  for (auto& host : hosts) {
    net::post(host->strand(), [host] { host->shutdown(); });
  }
}

}  // namespace cgw::tunnel
