#include "gateway/admission.hpp"

#include "metrics/registry.hpp"

#include <algorithm>
#include <utility>

namespace cgw::gateway {

std::string_view limit_name(Limit limit) {
  switch (limit) {
    case Limit::max_header_bytes:
      return "max_header_bytes";
    case Limit::max_message_bytes:
      return "max_message_bytes";
    case Limit::max_sessions:
      return "max_sessions";
    case Limit::max_sessions_per_client:
      return "max_sessions_per_client";
    case Limit::handshake_rate:
      return "handshake_rate";
    case Limit::max_handshakes:
      return "max_handshakes";
    case Limit::max_handshakes_per_peer:
      return "max_handshakes_per_peer";
    case Limit::idle_timeout:
      return "idle_timeout";
    case Limit::max_session_length:
      return "max_session_length";
  }
  return "-";
}

CountTable::Ticket::Ticket(Ticket&& other) noexcept
    : table_(std::exchange(other.table_, nullptr)), entry_(std::exchange(other.entry_, nullptr)) {}

CountTable::Ticket& CountTable::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    table_ = std::exchange(other.table_, nullptr);
    entry_ = std::exchange(other.entry_, nullptr);
  }
  return *this;
}

CountTable::Ticket::~Ticket() { release(); }

void CountTable::Ticket::release() noexcept {
  if (table_) std::exchange(table_, nullptr)->give_back(*std::exchange(entry_, nullptr));
}

CountTable::Ticket CountTable::take(std::string_view key, std::size_t max_total,
                                    std::size_t max_per_key, Verdict& why) {
  const std::lock_guard lock(mutex_);
  if (total_ >= max_total) {
    why = Verdict::total_full;
    return {};
  }
  auto it = counts_.find(key);
  if (it == counts_.end()) {
    it = counts_.emplace(std::string(key), 0).first;
  } else if (max_per_key != 0 && it->second >= max_per_key) {
    why = Verdict::key_full;
    return {};
  }
  ++it->second;
  ++total_;
  why = Verdict::admitted;
  return Ticket(this, &*it);
}

void CountTable::give_back(Entry& entry) noexcept {
  const std::lock_guard lock(mutex_);
  --total_;
  if (--entry.second == 0) counts_.erase(counts_.find(entry.first));
}

std::size_t CountTable::total() const {
  const std::lock_guard lock(mutex_);
  return total_;
}

std::size_t CountTable::count(std::string_view key) const {
  const std::lock_guard lock(mutex_);
  const auto it = counts_.find(key);
  return it == counts_.end() ? 0 : it->second;
}

std::size_t CountTable::keys() const {
  const std::lock_guard lock(mutex_);
  return counts_.size();
}

RateTable::RateTable(double rate, double burst, std::size_t max_tracked)
    : rate_(rate), burst_(std::max(1.0, burst)), max_tracked_(max_tracked) {}

bool RateTable::allow(std::string_view key, Clock::time_point now) {
  if (rate_ <= 0) return true;  // no rate limit
  std::string owned(key);
  const std::lock_guard lock(mutex_);
  auto it = buckets_.find(owned);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_tracked_) prune(now);
    if (buckets_.size() >= max_tracked_) return true;
    it = buckets_.emplace(std::move(owned), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  b.last = std::max(b.last, now);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

void RateTable::prune(Clock::time_point now) {
  std::erase_if(buckets_, [this, now](const auto& entry) {
    const Bucket& b = entry.second;
    const double elapsed = std::chrono::duration<double>(now - b.last).count();
    return b.tokens + elapsed * rate_ >= burst_;
  });
}

std::size_t RateTable::tracked() const {
  const std::lock_guard lock(mutex_);
  return buckets_.size();
}

Admission::Admission(const AdmissionLimits& limits)
    : limits_(limits), rate_(limits.handshake_rate, limits.handshake_burst, limits.max_tracked) {}

Admission::Ticket Admission::begin_handshake(std::string_view peer, bool trusted, Verdict& why) {
  return handshakes_.take(peer, limits_.max_handshakes,
                          trusted ? 0 : limits_.max_handshakes_per_peer, why);
}

Admission::Ticket Admission::open_console(std::string_view client, Verdict& why) {
  return consoles_.take(client, limits_.max_sessions, limits_.max_sessions_per_client, why);
}

void Admission::expose(metrics::Registry& registry) {
  auto& family = registry.counter(
      "console_gw_limit_refusals_total",
      "Connections, requests and consoles refused or ended by a [limits] setting.", {"limit"});
  for (std::size_t i = 0; i < limit_count; ++i) {
    refusals_[i] = &family.with({std::string(limit_name(static_cast<Limit>(i)))});
  }
  registry.gauge_callback(
      "console_gw_handshakes_open", "Connections accepted and not yet upgraded to a console.", {},
      [this] {
        return std::vector<metrics::Sample>{{{}, static_cast<double>(handshakes())}};
      });
}

void Admission::refused(Limit limit) noexcept {
  if (metrics::Counter* counter = refusals_[static_cast<std::size_t>(limit)]) counter->inc();
}

}  // namespace cgw::gateway
