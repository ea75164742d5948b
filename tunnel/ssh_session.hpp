// SshSession: one SSH connection to a hypervisor host and the channels opened
// over it. Internal to cgw::tunnel (SshTunnels keeps one per host).
//
// Owns the TCP socket, the libssh2 session (non-blocking) and every channel's
// libssh2 handle; streams refer to channels by id, so a channel that is gone
// (released, or its session died) is simply not found.
//
// All members must be called on the session's strand (executor()). libssh2
// calls are made only there, one at a time. When libssh2 says EAGAIN, the
// operation parks until the session makes progress: one reader waits for the
// socket to become readable and then wakes EVERY parked operation, because
// whichever call reads the socket may buffer packets for other channels; any
// call that received bytes wakes them all again for the same reason. One writer
// flushes what SshTransport queued when the socket becomes writable.
//
// Promises: nothing waits forever. Connecting is bounded by connect_timeout, a
// channel open too; reads and writes end when their channel is released or the
// session dies, and the session dies on any transport error, when the server
// closes the connection, or when two keepalives in a row go unanswered.
#pragma once

#include "tunnel/connector.hpp"
#include "tunnel/host_route.hpp"
#include "tunnel/libssh2_handles.hpp"
#include "tunnel/ssh_options.hpp"
#include "tunnel/ssh_transport.hpp"
#include "tunnel/ssh_wakeup.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace cgw::tunnel {

using boost::system::error_code;

class SshSession : public std::enable_shared_from_this<SshSession> {
 public:
  struct Failure {
    ConnectResult::Failure kind = ConnectResult::Failure::hypervisor_unreachable;
    std::string reason;
  };

  SshSession(boost::asio::any_io_executor strand, SshSettings settings, SshTunnelOptions options);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  // Connects, verifies the host key and authenticates, within connect_timeout.
  // Returns why not, or nothing once the session is ready. Called once.
  boost::asio::awaitable<std::optional<Failure>> connect();

  struct Opened {
    std::uint64_t channel = 0;  // 0 when the open failed
    Failure failure;
    bool session_lost = false;  // the session died rather than the channel being refused
  };
  // Opens a channel for an ssh_tcp or ssh_unix path.
  boost::asio::awaitable<Opened> open_channel(ConsolePath path);

  // ByteStream semantics for channel `id`: eof once the console's side has ended.
  boost::asio::awaitable<std::tuple<error_code, std::size_t>> read(
      std::uint64_t id, boost::asio::mutable_buffer buffer);
  boost::asio::awaitable<error_code> write(std::uint64_t id, boost::asio::const_buffer buffer);
  // Ends channel `id`: its pending read and write complete with operation_aborted,
  // and the channel is closed with the server in the background.
  void release(std::uint64_t id);

  // Says goodbye to the server and closes everything.
  void close(const char* why);
  bool alive() const noexcept { return !dead_; }
  const SshSettings& settings() const noexcept { return settings_; }
  const boost::asio::any_io_executor& executor() const noexcept { return strand_; }
  const std::string& name() const noexcept { return name_; }
  // Runs once, on the strand, when the session dies or is closed.
  void on_dead(std::function<void()> callback) { on_dead_ = std::move(callback); }

 private:
  struct Channel {
    ChannelHandle handle;
    bool eof = false;
  };
  struct OpenAttempt;

  boost::asio::awaitable<std::optional<Failure>> establish();
  boost::asio::awaitable<std::optional<Failure>> authenticate();
  boost::asio::awaitable<std::optional<Failure>> authenticate_with_agent(const std::string& user);

  template <class Attempt>
  boost::asio::awaitable<int> drive(Attempt attempt);
  void after_call(std::uint64_t received_before);
  boost::asio::awaitable<void> wait_for_progress();
  boost::asio::awaitable<void> wait_inbound();

  static boost::asio::awaitable<void> run_open(std::shared_ptr<SshSession> self,
                                               std::shared_ptr<OpenAttempt> attempt);
  static boost::asio::awaitable<void> reader(std::shared_ptr<SshSession> self);
  static boost::asio::awaitable<void> writer(std::shared_ptr<SshSession> self);
  static boost::asio::awaitable<void> keepalive(std::shared_ptr<SshSession> self);
  static boost::asio::awaitable<void> idle_watch(std::shared_ptr<SshSession> self);
  static boost::asio::awaitable<void> reaper(std::shared_ptr<SshSession> self);

  std::uint64_t bytes_seen();
  bool busy() const noexcept { return !channels_.empty() || opens_pending_ > 0; }
  void note_activity();
  void die(error_code why, bool expected = false);
  bool closed_by_us() const noexcept;  // by close(): shutdown or idle
  error_code ended() const;
  void free_libssh2() noexcept;

  boost::asio::any_io_executor strand_;
  SshSettings settings_;
  SshTunnelOptions options_;
  std::string user_;         // settings_.user, or the service's own user name
  std::string known_hosts_;  // settings_.known_hosts, or ~/.ssh/known_hosts
  std::string name_;         // user@host:port, for the log
  boost::asio::ip::tcp::socket socket_;
  // Declared in this order so that, whatever happens, channels are freed before
  // the session and the session before its transport and socket.
  std::unique_ptr<SshTransport> transport_;
  SessionHandle session_;
  std::map<std::uint64_t, Channel> channels_;
  std::vector<ChannelHandle> closing_;  // released, waiting for the server's close

  WakeAll progress_;   // libssh2 may have news: parked operations retry
  WakeAll reader_go_;  // an operation parked while the reader was parked
  WakeAll queued_;     // SshTransport queued bytes: the writer has work
  WakeAll space_;      // the queue fell below the high-water mark
  WakeAll open_free_;  // the channel-open slot is free
  WakeAll activity_;   // channels or opens came or went
  boost::asio::steady_timer keepalive_timer_;
  boost::asio::steady_timer idle_timer_;

  std::size_t inbound_waiters_ = 0;
  bool reader_parked_ = false;
  bool open_busy_ = false;  // libssh2 keeps channel-open state per session: one at a time
  std::size_t opens_pending_ = 0;
  bool reaper_running_ = false;
  std::uint64_t next_channel_ = 1;
  bool established_ = false;
  bool dead_ = false;
  error_code death_;
  std::function<void()> on_dead_;
};

}  // namespace cgw::tunnel
