#include "tunnel/ssh_session.hpp"

#include "common/log.hpp"
#include "tunnel/ssh_agent.hpp"
#include "tunnel/ssh_host_keys.hpp"
#include "tunnel/ssh_wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace cgw::tunnel {

namespace net = boost::asio;
namespace {

using namespace net::experimental::awaitable_operators;
using tcp = net::ip::tcp;
using Kind = ConnectResult::Failure;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
const log::Logger logger("tunnel");

// The account console-gw runs as: the default login, and the home whose
// .ssh/known_hosts is the default list of trusted host keys (as for ssh(1)).
struct Account {
  std::string name;
  std::string home;
};

Account current_account() {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (getpwuid_r(geteuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    return {found->pw_name, found->pw_dir ? found->pw_dir : ""};
  }
  return {};
}

std::string default_known_hosts() {
  const Account account = current_account();
  return account.home.empty() ? std::string() : account.home + "/.ssh/known_hosts";
}

// Errors that end one channel and say nothing about the session.
bool is_channel_error(int rc) {
  switch (rc) {
    case LIBSSH2_ERROR_CHANNEL_FAILURE:
    case LIBSSH2_ERROR_CHANNEL_CLOSED:
    case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
    case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
    case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
    case LIBSSH2_ERROR_REQUEST_DENIED:
      return true;
    default:
      return false;
  }
}

SshSession::Failure shut_down() { return {Kind::hypervisor_unreachable, "SSH tunnel shut down"}; }

// Counts the coroutines parked for inbound data while they are parked, however
// they leave (woken, or cancelled with an exception).
class CountWhileAlive {
 public:
  explicit CountWhileAlive(std::size_t& count) : count_(count) { ++count_; }
  ~CountWhileAlive() { --count_; }
  CountWhileAlive(const CountWhileAlive&) = delete;
  CountWhileAlive& operator=(const CountWhileAlive&) = delete;

 private:
  std::size_t& count_;
};

}  // namespace

struct SshSession::OpenAttempt {
  OpenAttempt(const net::any_io_executor& executor, ConsolePath console)
      : path(std::move(console)), done(executor) {}
  ConsolePath path;
  bool finished = false;
  bool abandoned = false;  // the requester stopped waiting: close the channel if it opens
  std::uint64_t channel = 0;
  int error = 0;
  std::string message;
  WakeAll done;
};

SshSession::SshSession(net::any_io_executor strand, SshSettings settings, SshTunnelOptions options)
    : strand_(std::move(strand)),
      settings_(std::move(settings)),
      options_(options),
      user_(settings_.user.empty() ? current_account().name : settings_.user),
      known_hosts_(settings_.known_hosts.empty() ? default_known_hosts() : settings_.known_hosts),
      name_(user_ + "@" + settings_.host + ":" + std::to_string(settings_.port)),
      socket_(strand_),
      progress_(strand_),
      reader_go_(strand_),
      queued_(strand_),
      space_(strand_),
      open_free_(strand_),
      activity_(strand_),
      keepalive_timer_(strand_),
      idle_timer_(strand_) {}

SshSession::~SshSession() { free_libssh2(); }

net::awaitable<std::optional<SshSession::Failure>> SshSession::connect() {
  ensure_libssh2_initialised();
  net::steady_timer deadline(strand_, options_.connect_timeout);
  auto outcome = co_await (establish() || deadline.async_wait(use_tuple));
  if (outcome.index() == 1) {
    logger.warn("SSH connection to ", name_, " timed out after ", options_.connect_timeout.count(),
                " ms");
    die(net::error::timed_out, true);
    co_return Failure{Kind::hypervisor_unreachable, "SSH timed out"};
  }
  auto failure = std::get<0>(std::move(outcome));
  if (failure) die(net::error::operation_aborted, true);
  co_return failure;
}

bool SshSession::closed_by_us() const noexcept {
  return dead_ && death_ == net::error::operation_aborted;
}

net::awaitable<std::optional<SshSession::Failure>> SshSession::establish() {
  tcp::resolver resolver(strand_);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(settings_.host, std::to_string(settings_.port), use_tuple);
  if (dead_) co_return shut_down();
  if (resolve_error) {
    logger.warn("SSH host ", settings_.host, " not found: ", resolve_error.message());
    co_return Failure{Kind::hypervisor_unreachable, "SSH host not found"};
  }
  auto [connect_error, endpoint] = co_await net::async_connect(socket_, endpoints, use_tuple);
  if (dead_) co_return shut_down();
  if (connect_error) {
    logger.warn("SSH connection to ", name_, " failed: ", connect_error.message());
    if (connect_error == net::error::connection_refused) {
      co_return Failure{Kind::hypervisor_unreachable, "SSH connection refused"};
    }
    co_return Failure{Kind::hypervisor_unreachable,
                      "SSH connection failed: " + connect_error.message()};
  }

  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  if (options_.keepalive_interval.count() > 0) {
    // Keepalives only help if unanswered data ends the connection: without this,
    // Linux retransmits for about 15 minutes before giving up.
    const unsigned int user_timeout = static_cast<unsigned int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.keepalive_interval).count() *
        3);
    ::setsockopt(socket_.native_handle(), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
                 sizeof user_timeout);
  }

  transport_ =
      std::make_unique<SshTransport>(socket_.native_handle(), [this] { queued_.notify_all(); });
  session_.reset(libssh2_session_init_ex(nullptr, nullptr, nullptr, transport_.get()));
  if (!session_) co_return Failure{Kind::hypervisor_unreachable, "SSH session not created"};
  transport_->attach(session_.get());
  libssh2_session_set_blocking(session_.get(), 0);
  net::co_spawn(strand_, reader(shared_from_this()), net::detached);
  net::co_spawn(strand_, writer(shared_from_this()), net::detached);

  std::string detail;
  const int handshake = co_await drive([&]() -> int {
    const int rc = libssh2_session_handshake(session_.get(), socket_.native_handle());
    if (rc != 0 && rc != LIBSSH2_ERROR_EAGAIN) detail = last_error_message(session_.get());
    return rc;
  });
  if (closed_by_us()) co_return shut_down();
  if (handshake != 0) {
    logger.warn("SSH handshake with ", name_,
                " failed: ", detail.empty() ? death_.message() : detail);
    co_return Failure{Kind::hypervisor_unreachable, "SSH handshake failed"};
  }

  const HostKeyCheck check =
      check_host_key(session_.get(), known_hosts_, settings_.host, settings_.port);
  using Verdict = HostKeyCheck::Verdict;
  if (check.verdict == Verdict::no_known_hosts) {
    logger.warn("SSH host key of ", name_, " cannot be verified: ", check.detail, "; it offered ",
                check.key_type, " ", check.fingerprint);
    co_return Failure{Kind::host_key_not_trusted, "known_hosts file not readable"};
  }
  if (check.verdict != Verdict::trusted) {
    logger.warn("SSH host key of ", name_, " not trusted (", check.detail, "): ", check.key_type,
                " ", check.fingerprint);
    co_return Failure{Kind::host_key_not_trusted, "host key not trusted"};
  }

  if (auto failure = co_await authenticate()) co_return failure;

  if (options_.keepalive_interval.count() > 0) {
    // want_reply = 1: the answers are what keepalive() listens for.
    libssh2_keepalive_config(
        session_.get(), 1,
        static_cast<unsigned int>(
            std::max(options_.keepalive_interval, std::chrono::seconds(2)).count()));
  }
  established_ = true;
  net::co_spawn(strand_, keepalive(shared_from_this()), net::detached);
  net::co_spawn(strand_, idle_watch(shared_from_this()), net::detached);
  logger.info("SSH session to ", name_, " established");
  co_return std::nullopt;
}

net::awaitable<std::optional<SshSession::Failure>> SshSession::authenticate() {
  if (settings_.use_agent) co_return co_await authenticate_with_agent(user_);
  if (settings_.key_file.empty()) {
    logger.warn("SSH authentication to ", name_, " impossible: neither a key file nor the agent");
    co_return Failure{Kind::hypervisor_unreachable, "SSH authentication failed: no key configured"};
  }
  std::string detail;
  // A NULL public key path makes libssh2 derive the public key from the private one.
  const int rc = co_await drive([&]() -> int {
    const int result = libssh2_userauth_publickey_fromfile_ex(
        session_.get(), user_.c_str(), static_cast<unsigned int>(user_.size()), nullptr,
        settings_.key_file.c_str(), nullptr);
    if (result != 0 && result != LIBSSH2_ERROR_EAGAIN) detail = last_error_message(session_.get());
    return result;
  });
  if (rc == 0) co_return std::nullopt;
  if (closed_by_us()) co_return shut_down();
  logger.warn("SSH authentication to ", name_, " with ", settings_.key_file,
              " failed: ", detail.empty() ? make_libssh2_error(rc).message() : detail);
  if (rc == LIBSSH2_ERROR_FILE) {
    co_return Failure{Kind::hypervisor_unreachable,
                      "SSH authentication failed: key file not readable"};
  }
  co_return Failure{Kind::hypervisor_unreachable, "SSH authentication failed"};
}

net::awaitable<std::optional<SshSession::Failure>> SshSession::authenticate_with_agent(
    const std::string& user) {
  const char* socket_path = std::getenv("SSH_AUTH_SOCK");
  if (!socket_path || !*socket_path) {
    logger.warn("SSH authentication to ", name_,
                " through the agent impossible: SSH_AUTH_SOCK not set");
    co_return Failure{Kind::hypervisor_unreachable, "SSH authentication failed: no ssh-agent"};
  }
  auto agent = std::make_shared<SshAgent>(strand_);
  if (error_code ec = co_await agent->connect(socket_path)) {
    logger.warn("ssh-agent at ", socket_path, " unreachable: ", ec.message());
    co_return Failure{Kind::hypervisor_unreachable,
                      "SSH authentication failed: ssh-agent unreachable"};
  }
  auto listed = co_await agent->list_identities();
  const std::vector<AgentIdentity> identities = std::move(std::get<1>(listed));
  if (std::get<0>(listed) || identities.empty()) {
    agent->close();
    logger.warn("ssh-agent at ", socket_path, " offers no keys: ", std::get<0>(listed).message());
    co_return Failure{Kind::hypervisor_unreachable,
                      "SSH authentication failed: ssh-agent has no keys"};
  }
  // The agent answers on its own socket; its answer must wake the parked userauth call.
  std::weak_ptr<SshSession> weak = weak_from_this();
  auto signer = std::make_shared<AgentSigner>(agent, [weak] {
    if (auto self = weak.lock()) self->progress_.notify_all();
  });
  for (const AgentIdentity& identity : identities) {
    signer->set_key(identity.blob);
    void* abstract = signer.get();
    const int rc = co_await drive([&]() -> int {
      return libssh2_userauth_publickey(session_.get(), user.c_str(), identity.blob.data(),
                                        identity.blob.size(), &AgentSigner::callback, &abstract);
    });
    if (rc == 0) {
      agent->close();
      co_return std::nullopt;
    }
    logger.debug("SSH server ", name_, " refused agent key ", identity.comment, ": ",
                 make_libssh2_error(rc).message());
    if (dead_) break;
  }
  agent->close();
  if (closed_by_us()) co_return shut_down();
  logger.warn("SSH authentication to ", name_, " with the agent's ", identities.size(),
              " key(s) failed");
  co_return Failure{Kind::hypervisor_unreachable, "SSH authentication failed"};
}

template <class Attempt>
net::awaitable<int> SshSession::drive(Attempt attempt) {
  for (;;) {
    if (dead_) co_return LIBSSH2_ERROR_SOCKET_DISCONNECT;
    const std::uint64_t before = transport_->received();
    const int rc = attempt();
    after_call(before);
    if (dead_) co_return LIBSSH2_ERROR_SOCKET_DISCONNECT;
    if (rc != LIBSSH2_ERROR_EAGAIN) co_return rc;
    co_await wait_for_progress();
  }
}

void SshSession::after_call(std::uint64_t received_before) {
  if (transport_->failed()) {
    die(transport_->error());
    return;
  }
  // This call may have buffered packets for channels whose operations are
  // parked; the socket will not become readable again for them.
  if (transport_->received() != received_before) progress_.notify_all();
}

net::awaitable<void> SshSession::wait_for_progress() {
  // SshTransport never makes libssh2 wait to send, so libssh2 reports INBOUND;
  // OUTBOUND would mean our queue is what it waits for, which the writer drains.
  const int directions = session_ ? libssh2_session_block_directions(session_.get()) : 0;
  if ((directions & LIBSSH2_SESSION_BLOCK_OUTBOUND) &&
      !(directions & LIBSSH2_SESSION_BLOCK_INBOUND) && transport_->queued() > 0) {
    co_await space_.wait();
    co_return;
  }
  co_await wait_inbound();
}

net::awaitable<void> SshSession::wait_inbound() {
  CountWhileAlive counted(inbound_waiters_);
  if (reader_parked_) {
    reader_parked_ = false;
    reader_go_.notify_all();
  }
  co_await progress_.wait();
}

net::awaitable<SshSession::Opened> SshSession::open_channel(ConsolePath path) {
  Opened result;
  if (dead_) {
    result.session_lost = true;
    result.failure = {Kind::hypervisor_unreachable, "SSH connection lost"};
    co_return result;
  }
  auto attempt = std::make_shared<OpenAttempt>(strand_, std::move(path));
  // However this coroutine ends, the attempt learns whether anyone still wants it.
  struct Leave {
    SshSession& session;
    OpenAttempt& attempt;
    ~Leave() {
      if (!attempt.finished) attempt.abandoned = true;
      --session.opens_pending_;
      session.note_activity();
    }
  };
  ++opens_pending_;
  note_activity();
  Leave leave{*this, *attempt};
  // The open runs on its own: libssh2 keeps an open's state in the session, so an
  // open cannot be abandoned halfway; a requester that gives up leaves it to finish.
  net::co_spawn(strand_, run_open(shared_from_this(), attempt), net::detached);
  net::steady_timer deadline(strand_, options_.connect_timeout);
  while (!attempt->finished) {
    auto outcome = co_await (attempt->done.wait() || deadline.async_wait(use_tuple));
    if (outcome.index() == 1 && !attempt->finished) {
      logger.warn("SSH channel open through ", name_, " timed out");
      result.failure = {Kind::console_unreachable, "console unreachable through SSH: timed out"};
      co_return result;
    }
  }
  if (attempt->channel) {
    result.channel = attempt->channel;
    co_return result;
  }
  if (dead_) {
    result.session_lost = true;
    result.failure = {Kind::hypervisor_unreachable, "SSH connection lost"};
    co_return result;
  }
  const std::string why =
      attempt->message.empty() ? make_libssh2_error(attempt->error).message() : attempt->message;
  result.failure = {Kind::console_unreachable, "console unreachable through SSH: " + why};
  co_return result;
}

net::awaitable<void> SshSession::run_open(std::shared_ptr<SshSession> self,
                                          std::shared_ptr<OpenAttempt> attempt) {
  SshSession& s = *self;
  while (s.open_busy_ && !s.dead_ && !attempt->abandoned) co_await s.open_free_.wait();
  if (!s.dead_ && !attempt->abandoned) {
    s.open_busy_ = true;
    const ConsolePath& path = attempt->path;
    // Type-specific data of the open request (RFC 4254 7.2; OpenSSH PROTOCOL 2.4):
    // where to connect, then the originator (address and port, or two reserved fields).
    Bytes message;
    std::string_view type;
    if (path.kind == ConsolePath::Kind::ssh_unix) {
      type = "direct-streamlocal@openssh.com";
      put_string(message, path.socket_path);
      put_string(message, "");
      put_u32(message, 0);
    } else {
      type = "direct-tcpip";
      put_string(message, path.address);
      put_u32(message, path.port);
      put_string(message, "127.0.0.1");
      put_u32(message, 0);
    }
    LIBSSH2_CHANNEL* opened = nullptr;
    const int rc = co_await s.drive([&]() -> int {
      // libssh2 counts what it has buffered for a channel against the window until
      // the channel is read, and tops the window up only to (this + the read's
      // size): the window bounds what one channel can hold in this process.
      opened = libssh2_channel_open_ex(
          s.session_.get(), type.data(), static_cast<unsigned int>(type.size()),
          static_cast<unsigned int>(s.options_.channel_window), LIBSSH2_CHANNEL_PACKET_DEFAULT,
          reinterpret_cast<const char*>(message.data()), static_cast<unsigned int>(message.size()));
      if (opened) return 0;
      const int error = libssh2_session_last_errno(s.session_.get());
      if (error != LIBSSH2_ERROR_EAGAIN) attempt->message = last_error_message(s.session_.get());
      return error;
    });
    s.open_busy_ = false;
    s.open_free_.notify_all();
    if (opened && !s.dead_) {
      libssh2_channel_handle_extended_data2(opened, LIBSSH2_CHANNEL_EXTENDED_DATA_IGNORE);
      const std::uint64_t id = s.next_channel_++;
      Channel channel;
      channel.handle = ChannelHandle(opened);
      s.channels_.emplace(id, std::move(channel));
      if (attempt->abandoned) {
        s.release(id);
      } else {
        attempt->channel = id;
      }
    } else {
      attempt->error = rc == 0 ? LIBSSH2_ERROR_CHANNEL_FAILURE : rc;
    }
  }
  attempt->finished = true;
  attempt->done.notify_all();
}

net::awaitable<std::tuple<error_code, std::size_t>> SshSession::read(std::uint64_t id,
                                                                     net::mutable_buffer buffer) {
  for (;;) {
    if (dead_) co_return std::tuple{ended(), std::size_t{0}};
    auto found = channels_.find(id);
    if (found == channels_.end()) {
      co_return std::tuple{error_code(net::error::operation_aborted), std::size_t{0}};
    }
    Channel& channel = found->second;
    if (channel.eof) co_return std::tuple{error_code(net::error::eof), std::size_t{0}};
    if (buffer.size() == 0) co_return std::tuple{error_code{}, std::size_t{0}};

    LIBSSH2_CHANNEL* handle = channel.handle.get();
    const std::uint64_t before = transport_->received();
    const ssize_t rc =
        libssh2_channel_read(handle, static_cast<char*>(buffer.data()), buffer.size());
    after_call(before);
    if (dead_) continue;
    if (rc > 0) co_return std::tuple{error_code{}, static_cast<std::size_t>(rc)};
    if (rc == 0 || rc == LIBSSH2_ERROR_EAGAIN) {
      if (libssh2_channel_eof(handle) == 1) {
        channel.eof = true;
        continue;
      }
      co_await wait_for_progress();
      continue;
    }
    if (is_channel_error(static_cast<int>(rc))) {
      channel.eof = true;
      co_return std::tuple{make_libssh2_error(static_cast<int>(rc)), std::size_t{0}};
    }
    die(make_libssh2_error(static_cast<int>(rc)));
  }
}

net::awaitable<error_code> SshSession::write(std::uint64_t id, net::const_buffer buffer) {
  const char* data = static_cast<const char*>(buffer.data());
  std::size_t done = 0;
  while (done < buffer.size()) {
    if (dead_) co_return ended();
    auto found = channels_.find(id);
    if (found == channels_.end()) co_return error_code(net::error::operation_aborted);
    // Backpressure from the socket: the queue grows only by what the kernel refused.
    if (transport_->queued() >= options_.send_high_water) {
      co_await space_.wait();
      continue;
    }
    const std::uint64_t before = transport_->received();
    const ssize_t rc =
        libssh2_channel_write(found->second.handle.get(), data + done, buffer.size() - done);
    after_call(before);
    if (dead_) continue;
    if (rc > 0) {
      done += static_cast<std::size_t>(rc);
      continue;
    }
    // Backpressure from the console: the channel's window is full until the server
    // adjusts it, which arrives as inbound data.
    if (rc == 0 || rc == LIBSSH2_ERROR_EAGAIN) {
      co_await wait_for_progress();
      continue;
    }
    if (is_channel_error(static_cast<int>(rc))) co_return make_libssh2_error(static_cast<int>(rc));
    die(make_libssh2_error(static_cast<int>(rc)));
  }
  co_return error_code{};
}

void SshSession::release(std::uint64_t id) {
  auto found = channels_.find(id);
  if (found == channels_.end()) return;
  closing_.push_back(std::move(found->second.handle));
  channels_.erase(found);
  // The channel's parked read or write must notice that it is gone.
  progress_.notify_all();
  space_.notify_all();
  note_activity();
  if (!reaper_running_ && !dead_) {
    reaper_running_ = true;
    net::co_spawn(strand_, reaper(shared_from_this()), net::detached);
  }
}

void SshSession::close(const char* why) {
  if (dead_) return;
  if (session_ && established_) {
    // Best effort: the goodbye is queued and flushed once, never waited for.
    libssh2_session_disconnect(session_.get(), why);
    transport_->flush();
  }
  logger.info("SSH session to ", name_, " closed (", why, ")");
  die(net::error::operation_aborted, true);
}

void SshSession::note_activity() {
  activity_.notify_all();
  idle_timer_.cancel();
}

error_code SshSession::ended() const {
  // The server closing the connection is not the console's orderly end.
  if (death_ == net::error::eof) return net::error::connection_reset;
  return death_;
}

void SshSession::die(error_code why, bool expected) {
  if (dead_) return;
  dead_ = true;
  death_ = why;
  if (established_ && !expected) {
    logger.warn("SSH session to ", name_, " lost: ",
                why == net::error::eof ? "connection closed by the server" : why.message());
  }
  free_libssh2();
  error_code ignored;
  socket_.close(ignored);
  keepalive_timer_.cancel();
  idle_timer_.cancel();
  progress_.notify_all();
  reader_go_.notify_all();
  queued_.notify_all();
  space_.notify_all();
  open_free_.notify_all();
  activity_.notify_all();
  if (on_dead_) {
    auto callback = std::move(on_dead_);
    on_dead_ = nullptr;
    callback();
  }
}

void SshSession::free_libssh2() noexcept {
  // Closed first, so that freeing neither sends nor waits: every channel and then
  // the session are freed at once, while the socket is still ours.
  if (transport_) transport_->close();
  channels_.clear();
  closing_.clear();
  session_.reset();
}

net::awaitable<void> SshSession::reader(std::shared_ptr<SshSession> self) {
  SshSession& s = *self;
  while (!s.dead_) {
    if (s.reader_parked_) {
      co_await s.reader_go_.wait();
      continue;
    }
    auto [ec] = co_await s.socket_.async_wait(tcp::socket::wait_read, use_tuple);
    if (s.dead_) break;
    if (ec) {
      s.die(ec);
      break;
    }
    if (s.inbound_waiters_ > 0) {
      s.progress_.notify_all();
      // Let the woken operations read before looking at the socket again.
      co_await net::post(s.strand_, net::use_awaitable);
      continue;
    }
    // Readable, and no operation to read: has the server gone, or is this data
    // (a keepalive reply, console output nobody asked for yet) for later?
    char byte = 0;
    const ssize_t n = ::recv(s.socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      s.die(net::error::eof);
      break;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      s.die(error_code(errno, boost::system::system_category()));
      break;
    }
    if (n > 0) s.reader_parked_ = true;
  }
}

net::awaitable<void> SshSession::writer(std::shared_ptr<SshSession> self) {
  SshSession& s = *self;
  while (!s.dead_) {
    if (s.transport_->queued() == 0) {
      co_await s.queued_.wait();
      continue;
    }
    auto [ec] = co_await s.socket_.async_wait(tcp::socket::wait_write, use_tuple);
    if (s.dead_) break;
    if (ec) {
      s.die(ec);
      break;
    }
    if (!s.transport_->flush()) {
      s.die(s.transport_->error());
      break;
    }
    if (s.transport_->queued() < s.options_.send_high_water) s.space_.notify_all();
  }
}

net::awaitable<void> SshSession::keepalive(std::shared_ptr<SshSession> self) {
  SshSession& s = *self;
  if (s.options_.keepalive_interval.count() <= 0) co_return;
  // libssh2 sends at most one keepalive every 2 s; waiting less would count
  // answers to keepalives that were never sent.
  const auto interval = std::max(s.options_.keepalive_interval, std::chrono::seconds(2));
  // The server must answer every keepalive, so when two in a row bring no byte
  // back the server is gone or hung, even if the kernel still acknowledges.
  constexpr int unanswered_limit = 2;
  int unanswered = 0;
  bool awaiting_answer = false;
  std::uint64_t last_seen = s.bytes_seen();
  while (!s.dead_) {
    s.keepalive_timer_.expires_after(interval);
    co_await s.keepalive_timer_.async_wait(use_tuple);
    if (s.dead_) break;
    const std::uint64_t seen = s.bytes_seen();
    if (awaiting_answer && seen == last_seen) {
      if (++unanswered >= unanswered_limit) {
        logger.warn("SSH server ", s.name_, " answered none of ", unanswered, " keepalives");
        s.die(net::error::timed_out);
        break;
      }
    } else {
      unanswered = 0;
    }
    last_seen = seen;
    int seconds_to_next = 0;
    const std::uint64_t before = s.transport_->received();
    const int rc = libssh2_keepalive_send(s.session_.get(), &seconds_to_next);
    s.after_call(before);
    if (s.dead_) break;
    if (rc < 0) {
      s.die(make_libssh2_error(rc));
      break;
    }
    awaiting_answer = true;
  }
}

std::uint64_t SshSession::bytes_seen() {
  // What libssh2 has read, plus what waits in the kernel because no operation
  // has asked libssh2 to read it yet (an idle session's keepalive answers).
  int unread = 0;
  if (::ioctl(socket_.native_handle(), FIONREAD, &unread) != 0 || unread < 0) unread = 0;
  return transport_->received() + static_cast<std::uint64_t>(unread);
}

net::awaitable<void> SshSession::idle_watch(std::shared_ptr<SshSession> self) {
  SshSession& s = *self;
  while (!s.dead_) {
    if (s.busy()) {
      co_await s.activity_.wait();
      continue;
    }
    s.idle_timer_.expires_after(s.options_.idle_close);
    auto [ec] = co_await s.idle_timer_.async_wait(use_tuple);
    if (s.dead_) break;
    if (!ec && !s.busy()) s.close("idle");
  }
}

net::awaitable<void> SshSession::reaper(std::shared_ptr<SshSession> self) {
  SshSession& s = *self;
  // libssh2_channel_free sends CHANNEL_CLOSE and waits for the server's; until then
  // it says EAGAIN and must be called again.
  while (!s.dead_ && !s.closing_.empty()) {
    bool waiting = false;
    for (std::size_t i = 0; i < s.closing_.size();) {
      const std::uint64_t before = s.transport_->received();
      const int rc = libssh2_channel_free(s.closing_[i].get());
      // Forget a freed channel before anything else runs: after_call may end the
      // session, which would free every handle still held.
      if (rc == LIBSSH2_ERROR_EAGAIN) {
        waiting = true;
        ++i;
      } else {
        s.closing_[i].release();
        s.closing_.erase(s.closing_.begin() + static_cast<std::ptrdiff_t>(i));
      }
      s.after_call(before);
      if (s.dead_) break;
    }
    if (waiting && !s.dead_) co_await s.wait_for_progress();
  }
  s.reaper_running_ = false;
}

}  // namespace cgw::tunnel
