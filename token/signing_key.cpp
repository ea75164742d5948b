#include "token/token.hpp"

#include "token/key_material.hpp"

namespace cgw::token {

SigningKey SigningKey::load_file(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->key = detail::load_key_file(path, detail::KeyUse::sign);
  return SigningKey(std::move(impl));
}

SigningKey::SigningKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Algorithm SigningKey::algorithm() const { return impl_->key.algorithm; }

SigningKey::~SigningKey() = default;
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;

}  // namespace cgw::token
