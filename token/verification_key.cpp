#include "token/token.hpp"

#include "token/key_material.hpp"

namespace cgw::token {

VerificationKey VerificationKey::load_file(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->key = detail::load_key_file(path, detail::KeyUse::verify);
  return VerificationKey(std::move(impl));
}

VerificationKey::VerificationKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Algorithm VerificationKey::algorithm() const { return impl_->key.algorithm; }

VerificationKey::~VerificationKey() = default;
VerificationKey::VerificationKey(VerificationKey&&) noexcept = default;
VerificationKey& VerificationKey::operator=(VerificationKey&&) noexcept = default;

}  // namespace cgw::token
