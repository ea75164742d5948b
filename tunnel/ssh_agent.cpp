#include "tunnel/ssh_agent.hpp"

#include "tunnel/ssh_wire.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdlib>
#include <cstring>

namespace cgw::tunnel {

namespace net = boost::asio;
namespace {

using boost::system::error_code;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Message numbers from the agent protocol (draft-miller-ssh-agent).
constexpr unsigned char agent_failure = 5;
constexpr unsigned char request_identities = 11;
constexpr unsigned char identities_answer = 12;
constexpr unsigned char sign_request = 13;
constexpr unsigned char sign_response = 14;
// OpenSSH's agent refuses larger messages too.
constexpr std::uint32_t max_message = 256 * 1024;

// Reads SSH wire fields from a message, refusing to run past its end.
class Reader {
 public:
  explicit Reader(const Bytes& data) : data_(data) {}

  bool u32(std::uint32_t& value) {
    if (data_.size() - pos_ < 4) return false;
    value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | data_[pos_++];
    return true;
  }
  bool string(Bytes& value) {
    std::uint32_t size = 0;
    if (!u32(size) || data_.size() - pos_ < size) return false;
    value.assign(data_.begin() + static_cast<std::ptrdiff_t>(pos_),
                 data_.begin() + static_cast<std::ptrdiff_t>(pos_ + size));
    pos_ += size;
    return true;
  }
  bool byte(unsigned char& value) {
    if (pos_ >= data_.size()) return false;
    value = data_[pos_++];
    return true;
  }

 private:
  const Bytes& data_;
  std::size_t pos_ = 0;
};

error_code protocol_error() {
  return boost::system::errc::make_error_code(boost::system::errc::protocol_error);
}

}  // namespace

net::awaitable<error_code> SshAgent::connect(std::string socket_path) {
  auto [ec] =
      co_await socket_.async_connect(net::local::stream_protocol::endpoint(socket_path), use_tuple);
  co_return ec;
}

void SshAgent::close() noexcept {
  error_code ignored;
  socket_.close(ignored);
}

net::awaitable<std::tuple<error_code, Bytes>> SshAgent::transact(Bytes request) {
  Bytes framed;
  framed.reserve(request.size() + 4);
  put_string(framed, request.data(), request.size());
  if (auto [ec, n] = co_await net::async_write(socket_, net::buffer(framed), use_tuple); ec) {
    co_return std::tuple{ec, Bytes{}};
  }
  unsigned char header[4];
  if (auto [ec, n] = co_await net::async_read(socket_, net::buffer(header), use_tuple); ec) {
    co_return std::tuple{ec, Bytes{}};
  }
  const std::uint32_t size = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                             (std::uint32_t{header[2]} << 8) | header[3];
  if (size == 0 || size > max_message) co_return std::tuple{protocol_error(), Bytes{}};
  Bytes reply(size);
  auto [ec, n] = co_await net::async_read(socket_, net::buffer(reply), use_tuple);
  co_return std::tuple{ec, std::move(reply)};
}

net::awaitable<std::tuple<error_code, std::vector<AgentIdentity>>> SshAgent::list_identities() {
  std::vector<AgentIdentity> identities;
  Bytes request(1, request_identities);
  auto [ec, reply] = co_await transact(std::move(request));
  if (ec) co_return std::tuple{ec, std::move(identities)};
  Reader reader(reply);
  unsigned char type = 0;
  std::uint32_t count = 0;
  if (!reader.byte(type) || type != identities_answer || !reader.u32(count)) {
    co_return std::tuple{protocol_error(), std::move(identities)};
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    AgentIdentity identity;
    Bytes comment;
    if (!reader.string(identity.blob) || !reader.string(comment)) {
      co_return std::tuple{protocol_error(), std::move(identities)};
    }
    identity.comment.assign(comment.begin(), comment.end());
    identities.push_back(std::move(identity));
  }
  co_return std::tuple{error_code{}, std::move(identities)};
}

net::awaitable<std::tuple<error_code, Bytes>> SshAgent::sign(Bytes key_blob, Bytes data) {
  Bytes request(1, sign_request);
  put_string(request, key_blob.data(), key_blob.size());
  put_string(request, data.data(), data.size());
  // No flags: libssh2 1.10 names RSA signatures "ssh-rsa" (SHA-1), so the agent
  // must sign the same way.
  put_u32(request, 0);
  auto [ec, reply] = co_await transact(std::move(request));
  if (ec) co_return std::tuple{ec, Bytes{}};
  Reader reader(reply);
  unsigned char type = 0;
  Bytes signature;
  if (!reader.byte(type) || type == agent_failure || type != sign_response ||
      !reader.string(signature)) {
    co_return std::tuple{
        boost::system::errc::make_error_code(boost::system::errc::permission_denied), Bytes{}};
  }
  // The signature is string(algorithm) string(blob); libssh2 adds the algorithm itself.
  Reader inner(signature);
  Bytes algorithm, blob;
  if (!inner.string(algorithm) || !inner.string(blob)) {
    co_return std::tuple{protocol_error(), Bytes{}};
  }
  co_return std::tuple{error_code{}, std::move(blob)};
}

LIBSSH2_USERAUTH_PUBLICKEY_SIGN_FUNC(AgentSigner::callback) {
  (void)session;
  return static_cast<AgentSigner*>(*abstract)->sign(sig, sig_len, data, data_len);
}

int AgentSigner::sign(unsigned char** signature, std::size_t* signature_length,
                      const unsigned char* data, std::size_t data_length) {
  switch (phase_) {
    case Phase::idle:
      phase_ = Phase::waiting;
      net::co_spawn(agent_->executor(),
                    request(shared_from_this(), Bytes(data, data + data_length)), net::detached);
      return LIBSSH2_ERROR_EAGAIN;
    case Phase::waiting:
      return LIBSSH2_ERROR_EAGAIN;
    case Phase::answered:
      break;
  }
  phase_ = Phase::idle;
  if (error_ || signature_.empty()) return -1;
  // libssh2 frees the signature with its allocator, which is malloc's default.
  auto* copy = static_cast<unsigned char*>(std::malloc(signature_.size()));
  if (!copy) return LIBSSH2_ERROR_ALLOC;
  std::memcpy(copy, signature_.data(), signature_.size());
  *signature = copy;
  *signature_length = signature_.size();
  return 0;
}

net::awaitable<void> AgentSigner::request(std::shared_ptr<AgentSigner> self, Bytes data) {
  auto [ec, signature] = co_await self->agent_->sign(self->key_blob_, std::move(data));
  self->error_ = ec;
  self->signature_ = std::move(signature);
  self->phase_ = Phase::answered;
  if (self->ready_) self->ready_();
}

}  // namespace cgw::tunnel
