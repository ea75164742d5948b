#include "gateway/replay_guard.hpp"

namespace cgw::gateway {
namespace {

// Expired IDs are swept after this many inserts, so the cost is spread thin.
constexpr std::size_t sweep_every = 1024;

}  // namespace

bool ReplayGuard::admit(std::string_view jti, Clock::time_point expires, std::string_view client,
                        bool allow_grace, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = used_.try_emplace(std::string(jti), Use{expires, now, std::string(client)});
  if (fresh) {
    if (++inserts_since_sweep_ >= sweep_every) sweep(now);
    return true;
  }
  Use& use = it->second;
  if (use.expires <= now) {
    // Expired since: the verifier refuses such a token before it gets here;
    // this is a new token that reuses an old ID.
    use = Use{expires, now, std::string(client)};
    return true;
  }
  return allow_grace && use.client == client && now - use.first <= grace_;
}

bool ReplayGuard::refuses(std::string_view jti, std::string_view client, bool allow_grace,
                          Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  const auto it = used_.find(std::string(jti));
  if (it == used_.end() || it->second.expires <= now) return false;
  return !(allow_grace && it->second.client == client && now - it->second.first <= grace_);
}

boost::asio::awaitable<ReplayAnswer> ReplayGuard::check(const ReplayUse& use) {
  const bool admitted = use.uses_up ? admit(use.jti, use.expires, use.client, use.allow_grace)
                                    : !refuses(use.jti, use.client, use.allow_grace);
  ReplayAnswer answer;
  answer.verdict = admitted ? ReplayAnswer::Verdict::admitted : ReplayAnswer::Verdict::already_used;
  co_return answer;
}

std::size_t ReplayGuard::remembered() const {
  std::lock_guard lock(mutex_);
  return used_.size();
}

void ReplayGuard::sweep(Clock::time_point now) {
  inserts_since_sweep_ = 0;
  std::erase_if(used_, [now](const auto& entry) { return entry.second.expires <= now; });
}

}  // namespace cgw::gateway
