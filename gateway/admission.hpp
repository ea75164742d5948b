// Admission: how many connections and consoles the gateway takes on, and from
// whom ([limits] in the configuration, docs/deployment.md).
//
// Two counts, each in total and per address: connections still in their
// handshake (TLS detection, TLS, the HTTP requests up to the upgrade), per TCP
// peer, so that many half-open handshakes (slowloris) from one peer cannot
// take every slot; and open consoles, per client (the browser's address: the
// forwarded one behind a trusted proxy). Each admitted one holds a Ticket that
// gives its slot back when destroyed, so nothing leaks whatever ends it.
// Beside them, a token bucket per client address limits how fast it may start
// console requests (the ones that verify a token and ask libvirt).
//
// Shared by every network thread: each call takes one mutex for a few map
// operations, once per connection or request, never per byte. Tickets may be
// destroyed on any thread but must not outlive their Admission.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cgw::metrics {
class Counter;
class Registry;
}  // namespace cgw::metrics

namespace cgw::gateway {

// The limits whose refusals and cuts are counted, as
// console_gw_limit_refusals_total{limit="<the [limits] key>"}.
enum class Limit : std::uint8_t {
  max_header_bytes,
  max_message_bytes,
  max_sessions,
  max_sessions_per_client,
  handshake_rate,
  max_handshakes,
  max_handshakes_per_peer,
  idle_timeout,
  max_session_length,
};
inline constexpr std::size_t limit_count = 9;
std::string_view limit_name(Limit limit);

struct AdmissionLimits {
  std::size_t max_sessions = 8000;            // open consoles in total
  std::size_t max_sessions_per_client = 100;  // open consoles per client address
  std::size_t max_handshakes = 2000;          // connections in their handshake, in total
  std::size_t max_handshakes_per_peer = 50;   // ... per TCP peer (trusted proxies: the total only)
  double handshake_rate = 20;                 // console requests per second per client address
  double handshake_burst = 40;                // ... of which this many at once
  // How many addresses the rate table tracks at most; a new address beyond it
  // is let through untracked (its burst would have allowed it anyway).
  std::size_t max_tracked = 65536;
};

// Counts per key and in total, up to limits; the Ticket gives one back.
class CountTable {
  // Heterogeneous lookup: a string_view key is looked up without a copy.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  using Counts = std::unordered_map<std::string, std::size_t, KeyHash, std::equal_to<>>;
  using Entry = Counts::value_type;

 public:
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    explicit operator bool() const noexcept { return table_ != nullptr; }

   private:
    friend class CountTable;
    Ticket(CountTable* table, Entry* entry) : table_(table), entry_(entry) {}
    void release() noexcept;
    CountTable* table_ = nullptr;
    // The key's entry in the table (entries stay where they are until erased,
    // which happens only when the last ticket for the key goes): two pointers,
    // so that an open console holds no copy of its client's address.
    Entry* entry_ = nullptr;
  };

  enum class Verdict { admitted, total_full, key_full };

  // A ticket for `key` unless the total is at `max_total` or `key` at
  // `max_per_key` (0: no per-key limit); `why` says which.
  Ticket take(std::string_view key, std::size_t max_total, std::size_t max_per_key, Verdict& why);

  std::size_t total() const;
  std::size_t count(std::string_view key) const;
  // Keys with a count (for tests: the table holds no key whose count is 0).
  std::size_t keys() const;

 private:
  void give_back(Entry& entry) noexcept;

  mutable std::mutex mutex_;
  Counts counts_;
  std::size_t total_ = 0;
};

// A token bucket per address: `rate` per second, up to `burst` at once.
class RateTable {
 public:
  using Clock = std::chrono::steady_clock;
  RateTable(double rate, double burst, std::size_t max_tracked);
  // Takes one token of `key`'s bucket at `now`; false when it is empty.
  bool allow(std::string_view key, Clock::time_point now);
  std::size_t tracked() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  // Forgets the buckets that have refilled (they would start full again).
  void prune(Clock::time_point now);

  double rate_;
  double burst_;
  std::size_t max_tracked_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

class Admission {
 public:
  explicit Admission(const AdmissionLimits& limits);

  using Ticket = CountTable::Ticket;
  using Verdict = CountTable::Verdict;

  // A connection starts its handshake; `trusted`: the peer is a trusted proxy
  // (many browsers behind one address), bound by the total only.
  Ticket begin_handshake(std::string_view peer, bool trusted, Verdict& why);
  // A console is about to open for `client`.
  Ticket open_console(std::string_view client, Verdict& why);
  // A console request (upgrade, console page or status) from `client`.
  bool allow_request(std::string_view client) {
    return rate_.allow(client, RateTable::Clock::now());
  }

  // Registers console_gw_limit_refusals_total{limit} (every limit at zero)
  // and console_gw_handshakes_open with `registry`, which must outlive the
  // last refused() call. Call before serving.
  void expose(metrics::Registry& registry);
  // Counts a refusal (or a session cut) by `limit`; any thread.
  void refused(Limit limit) noexcept;

  std::size_t open_consoles() const { return consoles_.total(); }
  std::size_t handshakes() const { return handshakes_.total(); }
  const AdmissionLimits& limits() const { return limits_; }

 private:
  AdmissionLimits limits_;
  CountTable handshakes_;
  CountTable consoles_;
  RateTable rate_;
  std::array<metrics::Counter*, limit_count> refusals_{};
};

}  // namespace cgw::gateway
