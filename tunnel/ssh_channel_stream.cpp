#include "tunnel/ssh_channel_stream.hpp"

#include "tunnel/ssh_session.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cgw::tunnel {

namespace net = boost::asio;
namespace {

// Named coroutines that keep the session alive in their frame while they run on
// its strand.
net::awaitable<std::tuple<error_code, std::size_t>> read_on_strand(
    std::shared_ptr<SshSession> session, std::uint64_t channel, net::mutable_buffer buffer) {
  co_return co_await session->read(channel, buffer);
}

net::awaitable<error_code> write_on_strand(std::shared_ptr<SshSession> session,
                                           std::uint64_t channel, net::const_buffer buffer) {
  co_return co_await session->write(channel, buffer);
}

}  // namespace

SshChannelStream::SshChannelStream(std::shared_ptr<SshSession> session, std::uint64_t channel)
    : session_(std::move(session)), channel_(channel) {}

SshChannelStream::~SshChannelStream() { abort(); }

net::awaitable<std::tuple<error_code, std::size_t>> SshChannelStream::read_some(
    net::mutable_buffer buffer) {
  co_return co_await net::co_spawn(session_->executor(), read_on_strand(session_, channel_, buffer),
                                   net::use_awaitable);
}

net::awaitable<error_code> SshChannelStream::write(net::const_buffer buffer) {
  co_return co_await net::co_spawn(session_->executor(),
                                   write_on_strand(session_, channel_, buffer), net::use_awaitable);
}

net::awaitable<void> SshChannelStream::close(stream::EndReason) {
  // A byte stream has no close handshake to wait for.
  abort();
  co_return;
}

void SshChannelStream::abort() noexcept {
  if (released_) return;
  released_ = true;
  try {
    net::post(session_->executor(),
              [session = session_, channel = channel_] { session->release(channel); });
  } catch (...) {
    // Only allocation can fail here; the channel then ends with its session.
  }
}

}  // namespace cgw::tunnel
