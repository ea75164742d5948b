#include "websocket/frame.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "websocket/mask.hpp"

namespace cgw::websocket {

namespace {

constexpr std::size_t max_control_payload = 125;
constexpr std::size_t max_close_reason = max_control_payload - 2;

constexpr std::uint8_t fin_bit = 0x80;
constexpr std::uint8_t reserved_bits = 0x70;
constexpr std::uint8_t opcode_bits = 0x0F;
constexpr std::uint8_t mask_bit = 0x80;
constexpr std::uint8_t length_bits = 0x7F;
constexpr std::uint8_t length_16 = 126;
constexpr std::uint8_t length_64 = 127;

constexpr bool is_control(std::uint8_t opcode) { return (opcode & 0x8) != 0; }

// The length of a client's header (masked), from its second byte.
constexpr std::size_t header_size(std::uint8_t b1) {
  const std::uint8_t length = b1 & length_bits;
  return 2 + (length == length_16 ? 2 : length == length_64 ? 8 : 0) + 4;
}

bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    std::uint32_t cp;
    std::uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

struct FailureInfo {
  std::uint16_t code;
  std::string_view reason;
};

}  // namespace

enum class Decoder::Failure : std::uint8_t {
  none,
  reserved_bits,
  unmasked,
  unknown_opcode,
  bad_control_frame,
  unexpected_continuation,
  expected_continuation,
  bad_length,
  text_frame,
  bad_close_frame,
  close_reason_not_utf8,
  message_too_big,
};

namespace {

// Indexed by Decoder::Failure.
constexpr FailureInfo failures[] = {
    {0, ""},
    {1002, "reserved bits set"},
    {1002, "unmasked client frame"},
    {1002, "unknown opcode"},
    {1002, "bad control frame"},
    {1002, "unexpected continuation frame"},
    {1002, "expected continuation frame"},
    {1002, "bad frame length"},
    {1003, "text frames not supported"},
    {1002, "bad close frame"},
    {1007, "close reason not UTF-8"},
    {1009, "message too big"},
};

}  // namespace

std::size_t write_header(std::uint8_t* out, Opcode opcode, std::uint64_t payload_size) noexcept {
  out[0] = static_cast<std::uint8_t>(fin_bit | static_cast<std::uint8_t>(opcode));
  if (payload_size < length_16) {
    out[1] = static_cast<std::uint8_t>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = length_16;
    out[2] = static_cast<std::uint8_t>(payload_size >> 8);
    out[3] = static_cast<std::uint8_t>(payload_size);
    return 4;
  }
  out[1] = length_64;
  for (int i = 0; i < 8; ++i) {
    out[2 + i] = static_cast<std::uint8_t>(payload_size >> (56 - 8 * i));
  }
  return 10;
}

std::string close_frame(std::uint16_t code, std::string_view reason) {
  if (reason.size() > max_close_reason) {
    // Cut before the character that byte max_close_reason belongs to, unless it starts one.
    std::size_t cut = max_close_reason;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string frame(2 + 2 + reason.size(), '\0');
  write_header(reinterpret_cast<std::uint8_t*>(frame.data()), Opcode::close, 2 + reason.size());
  frame[2] = static_cast<char>(code >> 8);
  frame[3] = static_cast<char>(code & 0xFF);
  frame.replace(4, reason.size(), reason);
  return frame;
}

std::string control_frame(Opcode opcode, std::string_view payload) {
  payload = payload.substr(0, max_control_payload);
  std::string frame(2 + payload.size(), '\0');
  write_header(reinterpret_cast<std::uint8_t*>(frame.data()), opcode, payload.size());
  frame.replace(2, payload.size(), payload);
  return frame;
}

std::size_t Decoder::decode(std::uint8_t* buf, std::size_t n) noexcept {
  if (stopped()) return 0;
  std::size_t in = 0;
  std::size_t out = 0;
  while (in < n) {
    if (!in_payload_) {
      // A whole header, or the rest of the input into header_; an empty frame ends here.
      in += read_header(buf + in, n - in);
      if (stopped()) return out;
      continue;
    }
    const std::size_t take = remaining_ < n - in ? static_cast<std::size_t>(remaining_) : n - in;
    if (is_control(opcode_)) {
      const std::size_t size = control_.size();
      control_.resize(size + take);
      detail::unmask(reinterpret_cast<std::uint8_t*>(control_.data()) + size, buf + in, take,
                     mask_);
    } else {
      detail::unmask(buf + out, buf + in, take, mask_);
      out += take;
    }
    in += take;
    remaining_ -= take;
    mask_ = detail::advance_mask(mask_, take);
    if (remaining_ == 0) {
      in_payload_ = false;
      if (is_control(opcode_)) {
        end_control_frame();
        if (stopped()) return out;
      }
    }
  }
  return out;
}

// Consumes header bytes from the n at p; returns how many. Then either the frame has
// started (its payload comes next, or it was empty and is done), or all n bytes went
// into header_, or the decoder has failed.
std::size_t Decoder::read_header(const std::uint8_t* p, std::size_t n) noexcept {
  if (header_len_ == 0 && n >= 2) {
    // The common case: the whole header is here; read it where it is.
    if (!check_start(p[0], p[1])) return 0;
    const std::size_t size = header_size(p[1]);
    if (n >= size) {
      start_frame(p);
      return size;
    }
  }
  std::size_t used = 0;
  if (header_len_ < 2) {
    used = std::min<std::size_t>(2 - header_len_, n);
    std::memcpy(header_ + header_len_, p, used);
    header_len_ = static_cast<std::uint8_t>(header_len_ + used);
    if (header_len_ < 2 || !check_start(header_[0], header_[1])) return used;
  }
  const std::size_t size = header_size(header_[1]);
  const std::size_t more = std::min(size - header_len_, n - used);
  std::memcpy(header_ + header_len_, p + used, more);
  header_len_ = static_cast<std::uint8_t>(header_len_ + more);
  if (header_len_ == size) {
    header_len_ = 0;
    start_frame(header_);
  }
  return used + more;
}

// Checks what the first two bytes of a header tell.
bool Decoder::check_start(std::uint8_t b0, std::uint8_t b1) noexcept {
  const std::uint8_t opcode = b0 & opcode_bits;
  const bool fin = (b0 & fin_bit) != 0;
  const std::uint8_t length = b1 & length_bits;
  if ((b0 & reserved_bits) != 0) {
    fail(Failure::reserved_bits);
  } else if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xA) {
    fail(Failure::unknown_opcode);
  } else if ((b1 & mask_bit) == 0) {
    fail(Failure::unmasked);
  } else if (is_control(opcode)) {
    if (!fin || length > max_control_payload) fail(Failure::bad_control_frame);
  } else if (opcode == static_cast<std::uint8_t>(Opcode::continuation)) {
    if (!in_message_) fail(Failure::unexpected_continuation);
  } else if (in_message_) {
    fail(Failure::expected_continuation);
  } else if (opcode == static_cast<std::uint8_t>(Opcode::text)) {
    fail(Failure::text_frame);
  }
  return error_ == 0;
}

// Starts the frame whose whole header (checked by check_start) is at h.
void Decoder::start_frame(const std::uint8_t* h) noexcept {
  const std::uint8_t opcode = h[0] & opcode_bits;
  std::uint64_t length = h[1] & length_bits;
  const std::uint8_t* key = h + 2;
  if (length == length_16) {
    length = (std::uint64_t{h[2]} << 8) | h[3];
    key = h + 4;
    if (length < length_16) return fail(Failure::bad_length);
  } else if (length == length_64) {
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | h[2 + i];
    key = h + 10;
    if (length <= 0xFFFF || (length >> 63) != 0) return fail(Failure::bad_length);
  }
  opcode_ = opcode & opcode_bits;
  if (!is_control(opcode)) {
    in_message_ = (h[0] & fin_bit) == 0;
    message_ =
        opcode == static_cast<std::uint8_t>(Opcode::continuation) ? message_ + length : length;
    if (max_message_ != 0 && message_ > max_message_) return fail(Failure::message_too_big);
  }
  std::memcpy(&mask_, key, sizeof mask_);
  remaining_ = length;
  if (length != 0) {
    in_payload_ = true;
  } else if (is_control(opcode)) {
    end_control_frame();
  }
}

// The control frame being read is complete: its payload follows the pending ping's in
// control_.
void Decoder::end_control_frame() noexcept {
  const std::size_t prefix = ping_prefix();
  switch (static_cast<Opcode>(opcode_)) {
    case Opcode::ping:
      // Only the newest ping is answered.
      control_.erase(0, prefix);
      ping_len_ = static_cast<std::uint8_t>(control_.size());
      ping_pending_ = true;
      break;
    case Opcode::pong:
      pong_ = true;
      control_.resize(prefix);
      if (control_.empty()) std::string().swap(control_);  // give back any allocation
      break;
    default: {  // close
      const std::size_t size = control_.size() - prefix;
      if (size == 0) {
        close_code_ = 1005;
        break;
      }
      const auto* payload = reinterpret_cast<const std::uint8_t*>(control_.data()) + prefix;
      const auto code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
      if (size == 1 || !valid_close_code(code)) return fail(Failure::bad_close_frame);
      control_.erase(prefix, 2);
      if (!valid_utf8(std::string_view(control_).substr(prefix))) {
        return fail(Failure::close_reason_not_utf8);
      }
      close_code_ = code;
      break;
    }
  }
}

void Decoder::fail(Failure why) noexcept { error_ = static_cast<std::uint8_t>(why); }

bool Decoder::failed() const noexcept { return error_ != 0; }

std::uint16_t Decoder::error_code() const noexcept { return failures[error_].code; }

std::string_view Decoder::error_reason() const noexcept { return failures[error_].reason; }

std::optional<std::string> Decoder::take_ping() {
  if (!ping_pending_) return std::nullopt;
  ping_pending_ = false;
  std::string ping;
  if (control_.size() == ping_len_) {
    ping = std::exchange(control_, std::string());
  } else {
    ping = control_.substr(0, ping_len_);
    control_.erase(0, ping_len_);
  }
  ping_len_ = 0;
  return ping;
}

bool Decoder::take_pong() noexcept {
  const bool pong = pong_;
  pong_ = false;
  return pong;
}

bool Decoder::close_received() const noexcept { return close_code_ != 0; }

std::uint16_t Decoder::close_code() const noexcept { return close_code_; }

std::string_view Decoder::close_reason() const noexcept {
  if (close_code_ == 0) return {};
  return std::string_view(control_).substr(ping_prefix());
}

}  // namespace cgw::websocket
