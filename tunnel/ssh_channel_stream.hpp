// SshChannelStream: a ByteStream over one channel of an SshSession. Internal to
// cgw::tunnel; SshTunnels::open hands it out.
//
// Owns its channel (by id) and shares ownership of the session. Used from its
// owner's strand, with ByteStream's rules; each call hops to the session's
// strand and resumes on the caller's executor. close() and abort() (and the
// destructor) release the channel: a pending read or write then completes with
// operation_aborted.
#pragma once

#include "stream/byte_stream.hpp"

#include <cstdint>
#include <memory>

namespace cgw::tunnel {

class SshSession;

class SshChannelStream final : public stream::ByteStream {
 public:
  SshChannelStream(std::shared_ptr<SshSession> session, std::uint64_t channel);
  ~SshChannelStream() override;
  SshChannelStream(const SshChannelStream&) = delete;
  SshChannelStream& operator=(const SshChannelStream&) = delete;

  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer) override;
  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buffer) override;
  boost::asio::awaitable<void> close(stream::EndReason why) override;
  void abort() noexcept override;

 private:
  std::shared_ptr<SshSession> session_;
  std::uint64_t channel_;
  bool released_ = false;
};

}  // namespace cgw::tunnel
