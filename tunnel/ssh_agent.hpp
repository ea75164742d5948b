// SshAgent: a client for ssh-agent's protocol over its UNIX socket
// ($SSH_AUTH_SOCK), written on Asio so that neither listing keys nor signing
// blocks a network thread (libssh2 1.10's own agent code uses a blocking socket).
// Internal to cgw::tunnel.
//
// AgentSigner adapts it to libssh2's synchronous sign callback: the first call
// sends the request and returns EAGAIN; libssh2 calls again, as it does on
// EAGAIN, and gets the signature once the agent has answered.
//
// Both are used from the SSH session's strand only; one request at a time.
#pragma once

#include "tunnel/ssh_wire.hpp"

#include <libssh2.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace cgw::tunnel {

struct AgentIdentity {
  Bytes blob;  // the public key in SSH wire format
  std::string comment;
};

class SshAgent {
 public:
  explicit SshAgent(const boost::asio::any_io_executor& executor) : socket_(executor) {}

  boost::asio::awaitable<boost::system::error_code> connect(std::string socket_path);
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::vector<AgentIdentity>>>
  list_identities();
  // The raw signature blob (without its algorithm name), as libssh2 wants it.
  boost::asio::awaitable<std::tuple<boost::system::error_code, Bytes>> sign(Bytes key_blob,
                                                                            Bytes data);
  void close() noexcept;
  boost::asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  boost::asio::awaitable<std::tuple<boost::system::error_code, Bytes>> transact(Bytes request);

  boost::asio::local::stream_protocol::socket socket_;
};

class AgentSigner : public std::enable_shared_from_this<AgentSigner> {
 public:
  // `ready` runs on the strand once the agent has answered, to make the caller
  // retry its libssh2 call.
  AgentSigner(std::shared_ptr<SshAgent> agent, std::function<void()> ready)
      : agent_(std::move(agent)), ready_(std::move(ready)) {}

  // For libssh2_userauth_publickey; its abstract must point to a pointer to
  // this signer, which must outlive the authentication call.
  static LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(callback);

  void set_key(Bytes blob) { key_blob_ = std::move(blob); }

 private:
  enum class Phase { idle, waiting, answered };
  int sign(unsigned char** signature, std::size_t* signature_length, const unsigned char* data,
           std::size_t data_length);
  static boost::asio::awaitable<void> request(std::shared_ptr<AgentSigner> self, Bytes data);

  std::shared_ptr<SshAgent> agent_;
  std::function<void()> ready_;
  Bytes key_blob_;
  Phase phase_ = Phase::idle;
  boost::system::error_code error_;
  Bytes signature_;
};

}  // namespace cgw::tunnel
