#include "rfb/input_filter.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace cgw::rfb {

namespace {

// How the length of a client message is known, and whether a viewer may send it.
enum class Length : std::uint8_t {
  unknown,  // not a message we know: the session ends
  fixed,    // `size` is the whole message
  header,   // the first `size` bytes decide the rest (header_complete())
};
enum class Decision : std::uint8_t { pass, drop, undecided };

struct Rule {
  Length length = Length::unknown;
  Decision decision = Decision::pass;
  std::uint8_t size = 0;
};

// One entry per message type, so the type byte is one table look-up. The types
// are those RFB.messages of noVNC (1.3) can send, and QEMU's audio message.
constexpr std::array<Rule, 256> make_rules() {
  std::array<Rule, 256> r{};
  r[0] = {Length::fixed, Decision::pass, 20};         // SetPixelFormat
  r[2] = {Length::header, Decision::pass, 4};         // SetEncodings: + 4 * count
  r[3] = {Length::fixed, Decision::pass, 10};         // FramebufferUpdateRequest
  r[4] = {Length::fixed, Decision::drop, 8};          // KeyEvent
  r[5] = {Length::fixed, Decision::drop, 6};          // PointerEvent
  r[6] = {Length::header, Decision::drop, 8};         // ClientCutText: + |length|
  r[150] = {Length::fixed, Decision::pass, 10};       // EnableContinuousUpdates
  r[248] = {Length::header, Decision::pass, 9};       // ClientFence: + payload
  r[250] = {Length::fixed, Decision::drop, 4};        // xvp: power control
  r[251] = {Length::header, Decision::drop, 8};       // SetDesktopSize: + 16 * screens
  r[255] = {Length::header, Decision::undecided, 2};  // QEMU: the subtype decides
  return r;
}
constexpr std::array<Rule, 256> rules = make_rules();

constexpr std::size_t max_fence_payload = 64;
constexpr std::uint8_t qemu_extended_key_event = 0;
constexpr std::uint8_t qemu_audio = 1;
constexpr std::size_t qemu_extended_key_event_size = 12;

// The shared flag a viewer's ClientInit carries, whatever the browser sent.
constexpr std::uint8_t shared_flag = 1;

std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t{p[0]} << 8 | p[1]; }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

}  // namespace

InputFilter::InputFilter() { keep_.reserve(8); }

void InputFilter::fail(std::string text) {
  error_ = std::move(text);
  keep_.clear();
}

bool InputFilter::header_complete() {
  const std::uint8_t type = header_[0];
  switch (type) {
    case 2:
      body_left_ = 4 * be16(&header_[2]);
      break;
    case 6: {
      // The extended clipboard sends a negative length: |length| bytes follow.
      const std::uint32_t length = be32(&header_[4]);
      body_left_ = (length & 0x80000000u) ? std::uint32_t{0u - length} : length;
      break;
    }
    case 248:
      if (header_[8] > max_fence_payload) {
        fail("view-only: a fence of " + std::to_string(header_[8]) +
             " bytes from the browser (at most 64)");
        return false;
      }
      body_left_ = header_[8];
      break;
    case 251:
      body_left_ = 16 * std::uint32_t{header_[6]};
      break;
    case 255:
      if (header_need_ == 2) {
        if (header_[1] == qemu_extended_key_event) {
          verdict_ = Verdict::drop;
          ++counters_.dropped;
          body_left_ = qemu_extended_key_event_size - 2;
          break;
        }
        if (header_[1] == qemu_audio) {
          header_need_ = 4;  // the operation decides the length
          return true;
        }
        fail("view-only: unknown QEMU message subtype " + std::to_string(header_[1]) +
             " from the browser");
        return false;
      } else {
        const std::uint32_t operation = be16(&header_[2]);
        if (operation > 2) {
          fail("view-only: unknown QEMU audio operation " + std::to_string(operation) +
               " from the browser");
          return false;
        }
        // 0 enable, 1 disable: 4 bytes; 2 set format: 10 bytes.
        body_left_ = operation == 2 ? 6 : 0;
        verdict_ = Verdict::pass;
        ++counters_.passed;
      }
      break;
    default:
      break;
  }
  if (verdict_ == Verdict::drop) counters_.bytes_dropped += header_need_ + body_left_;
  state_ = body_left_ > 0 ? State::body : State::type;
  return true;
}

FilterResult InputFilter::feed(Bytes chunk) {
  keep_.clear();
  if (failed()) return {{}, error_};

  constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  const std::uint8_t* const data = chunk.data();
  const std::size_t size = chunk.size();
  std::size_t pos = 0;
  // Start of the part of the chunk being kept, or none while dropping.
  std::size_t run = none;
  // Whether keep_.back() is a part of the chunk, so the next part may extend it.
  bool back_is_chunk = false;

  const auto keep_chunk = [&](std::size_t from, std::size_t to) {
    if (from == to) return;
    if (back_is_chunk && keep_.back().data() + keep_.back().size() == data + from) {
      keep_.back() = Bytes(keep_.back().data(), data + to);
    } else {
      keep_.emplace_back(data + from, to - from);
    }
    back_is_chunk = true;
  };
  const auto keep_own = [&](Bytes bytes) {
    keep_.push_back(bytes);
    back_is_chunk = false;
  };

  // A message that goes on from the last chunk is kept from the first byte.
  if ((state_ == State::header || state_ == State::body) && verdict_ == Verdict::pass) run = 0;
  header_held_ = state_ == State::header ? header_have_ : 0;

  while (pos < size) {
    switch (state_) {
      case State::body: {
        // Payload is counted, not read: skipped or kept by arithmetic.
        const std::uint64_t take = std::min<std::uint64_t>(body_left_, size - pos);
        pos += take;
        body_left_ -= take;
        if (body_left_ == 0) state_ = State::type;
        break;
      }
      case State::type: {
        // Whole fixed-size messages, most of noVNC's traffic, in a tight loop
        // on locals: one table look-up and one addition each.
        std::uint64_t passed = 0;
        std::uint64_t dropped = 0;
        std::uint64_t bytes_dropped = 0;
        while (pos < size) {
          const Rule rule = rules[data[pos]];
          if (rule.length != Length::fixed || rule.size > size - pos) break;
          // A run of one message type (noVNC's FramebufferUpdateRequests, a
          // mouse's PointerEvents) goes by comparing the type byte: no table
          // look-up in the chain from one message's position to the next.
          const std::uint8_t type = data[pos];
          const std::size_t step = rule.size;
          std::size_t n = 1;
          std::size_t end = pos + step;
          while (size - end >= step && data[end] == type) {
            end += step;
            ++n;
          }
          if (rule.decision == Decision::pass) {
            if (run == none) run = pos;
            passed += n;
          } else {
            if (run != none) keep_chunk(run, pos);
            run = none;
            dropped += n;
            bytes_dropped += end - pos;
          }
          pos = end;
        }
        counters_.passed += passed;
        counters_.dropped += dropped;
        counters_.bytes_dropped += bytes_dropped;
        if (pos == size) break;

        // A message cut by the chunk's end, one with a header, or an unknown one.
        const std::uint8_t type = data[pos];
        const Rule rule = rules[type];
        if (rule.length == Length::unknown) {
          fail("view-only: unknown RFB message type " + std::to_string(type) + " from the browser");
          return {{}, error_};
        }
        verdict_ = static_cast<Verdict>(rule.decision);
        if (verdict_ == Verdict::pass) {
          if (run == none) run = pos;
          ++counters_.passed;
        } else {
          // Dropped, or held until the verdict is known: what came before goes.
          if (run != none) keep_chunk(run, pos);
          run = none;
          if (verdict_ == Verdict::drop) ++counters_.dropped;
        }
        ++pos;
        if (rule.length == Length::fixed) {
          body_left_ = rule.size - 1u;
          if (verdict_ == Verdict::drop) counters_.bytes_dropped += rule.size;
          state_ = State::body;
        } else {
          header_[0] = type;
          header_have_ = 1;
          header_need_ = rule.size;
          header_held_ = 0;
          state_ = State::header;
        }
        break;
      }
      case State::header: {
        const std::size_t take = std::min<std::size_t>(header_need_ - header_have_, size - pos);
        std::memcpy(header_.data() + header_have_, data + pos, take);
        header_have_ = static_cast<std::uint8_t>(header_have_ + take);
        pos += take;
        if (header_have_ < header_need_) break;
        const Verdict before = verdict_;
        if (!header_complete()) return {{}, error_};
        if (before == Verdict::undecided && verdict_ == Verdict::pass) {
          // Kept after all: the header bytes of earlier chunks from our copy,
          // the rest from this chunk.
          // Copied, as the next message's header may follow in this chunk.
          if (header_held_ > 0) {
            std::memcpy(held_.data(), header_.data(), header_held_);
            keep_own(Bytes(held_.data(), header_held_));
          }
          run = pos - (header_have_ - header_held_);
        }
        break;
      }
      case State::client_init:
        // The first byte ever: ClientInit's shared flag, forced to 1.
        if (data[pos] == shared_flag) {
          run = pos;
        } else {
          keep_own(Bytes(&shared_flag, 1));
        }
        ++counters_.passed;
        ++pos;
        state_ = State::type;
        break;
    }
  }
  if (run != none) keep_chunk(run, size);
  return {keep_, {}};
}

}  // namespace cgw::rfb
