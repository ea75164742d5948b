#include "bench/rfb.hpp"

#include <boost/asio/buffer.hpp>

#include <cstring>
#include <stdexcept>

namespace cgw::bench::rfb {

namespace net = boost::asio;
namespace {

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t{p[0]} << 8 | p[1]; }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}
std::uint64_t le64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
void put_le64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

// 32 bpp, depth 24, little-endian, true colour, 8 bits per channel, red at 16.
constexpr std::array<std::uint8_t, 16> pixel_format = {32, 24,  0,  1, 0, 255, 0, 255,
                                                       0,  255, 16, 8, 0, 0,   0, 0};

// noVNC 1.3's encodings, in its order: Tight, TightPNG, Hextile, RRE, Raw,
// CopyRect, and the pseudo-encodings it asks for.
constexpr std::array<std::int32_t, 14> novnc_encodings = {7,    -260, 5,    2,    0,    1,    -23,
                                                          -247, -223, -224, -239, -258, -308, -313};

// Whole-screen incremental FramebufferUpdateRequest, noVNC's steady state.
constexpr std::array<std::uint8_t, 10> update_request = {framebuffer_update_request,
                                                         1,
                                                         0,
                                                         0,
                                                         0,
                                                         0,
                                                         screen_width >> 8,
                                                         screen_width & 0xff,
                                                         screen_height >> 8,
                                                         screen_height & 0xff};

std::array<std::uint8_t, 16> update_header() {
  std::array<std::uint8_t, 16> h{};
  h[0] = 0;  // FramebufferUpdate
  put16(&h[2], 1);
  put16(&h[8], screen_width);
  put16(&h[10], screen_height);
  put32(&h[12], 0);  // Raw
  return h;
}

void append(std::vector<std::uint8_t>& out, const std::uint8_t* data, std::size_t size) {
  out.insert(out.end(), data, data + size);
}

constexpr std::uint64_t max_encodings = 64;
constexpr std::uint64_t max_cut_text = 1 << 20;

}  // namespace

std::vector<std::uint8_t> server_init() {
  std::vector<std::uint8_t> out(4 + pixel_format.size() + 4 + desktop_name.size());
  put16(&out[0], screen_width);
  put16(&out[2], screen_height);
  std::memcpy(&out[4], pixel_format.data(), pixel_format.size());
  put32(&out[20], static_cast<std::uint32_t>(desktop_name.size()));
  std::memcpy(&out[24], desktop_name.data(), desktop_name.size());
  return out;
}

std::array<std::uint8_t, 20> set_pixel_format_message() {
  std::array<std::uint8_t, 20> m{};
  m[0] = set_pixel_format;
  std::memcpy(&m[4], pixel_format.data(), pixel_format.size());
  return m;
}

const std::vector<std::uint8_t>& framebuffer_update() {
  static const std::vector<std::uint8_t> update = [] {
    std::vector<std::uint8_t> u(update_size);
    const auto header = update_header();
    std::memcpy(u.data(), header.data(), header.size());
    // A gradient, not one value, so that nothing on the way could shortcut it.
    for (std::size_t i = update_header_size; i < u.size(); ++i) {
      u[i] = static_cast<std::uint8_t>(i * 131 + i / 4096);
    }
    return u;
  }();
  return update;
}

bool UpdateChecker::feed(const std::uint8_t* data, std::size_t size) {
  static const std::array<std::uint8_t, 16> expected = update_header();
  while (size > 0) {
    if (offset_ < update_header_size) {
      const std::size_t n = std::min(size, update_header_size - offset_);
      if (std::memcmp(data, expected.data() + offset_, n) != 0) return false;
      offset_ += n;
      data += n;
      size -= n;
      continue;
    }
    // Pixels are counted, not looked at.
    const std::size_t n = std::min(size, update_size - offset_);
    offset_ += n;
    data += n;
    size -= n;
    if (offset_ == update_size) {
      offset_ = 0;
      ++updates_;
    }
  }
  return true;
}

namespace {
// Incremental or not, inside the screen.
bool update_request_ok(const std::uint8_t* m) {
  return m[1] <= 1 && be16(m + 2) + be16(m + 6) <= screen_width &&
         be16(m + 4) + be16(m + 8) <= screen_height;
}
}  // namespace

bool ClientParser::header_done() {
  const std::uint8_t* h = header_.data();
  switch (h[0]) {
    case set_pixel_format:
      ++counts_.set_pixel_format;
      break;
    case set_encodings:
      body_left_ = 4 * std::uint64_t{be16(&h[2])};
      if (body_left_ > 4 * max_encodings) {
        error_ = "SetEncodings of " + std::to_string(be16(&h[2])) + " encodings";
        return false;
      }
      ++counts_.set_encodings;
      break;
    case framebuffer_update_request:
      if (!update_request_ok(h)) {
        error_ = "FramebufferUpdateRequest outside the screen";
        return false;
      }
      ++counts_.update_requests;
      break;
    case key_event:
      ++counts_.key_events;
      break;
    case pointer_event:
      ++counts_.pointer_events;
      break;
    case client_cut_text:
      body_left_ = be32(&h[4]);
      if (body_left_ > max_cut_text) {
        error_ = "ClientCutText of " + std::to_string(body_left_) + " bytes";
        return false;
      }
      ++counts_.cut_texts;
      break;
  }
  ++counts_.messages;
  body_left_ += tail_;
  header_need_ = 0;
  header_have_ = 0;
  return true;
}

bool ClientParser::feed(const std::uint8_t* data, std::size_t size) {
  if (!error_.empty()) return false;
  counts_.bytes += size;
  std::size_t pos = 0;
  while (pos < size) {
    if (body_left_ > 0) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, size - pos));
      body_left_ -= n;
      pos += n;
      continue;
    }
    if (header_need_ == 0) {
      // Whole fixed-size messages, most of a browser's stream, in a tight
      // loop: checked and counted where they lie.
      for (bool more = true; more && pos < size;) {
        const std::uint8_t* m = data + pos;
        const std::size_t left = size - pos;
        switch (m[0]) {
          case framebuffer_update_request:
            if (left < update_request.size()) {
              more = false;
              break;
            }
            if (!update_request_ok(m)) {
              error_ = "FramebufferUpdateRequest outside the screen";
              return false;
            }
            ++counts_.update_requests;
            pos += update_request.size();
            break;
          case pointer_event:
            if (left < 6) {
              more = false;
              break;
            }
            ++counts_.pointer_events;
            pos += 6;
            break;
          case key_event:
            if (left < 8) {
              more = false;
              break;
            }
            ++counts_.key_events;
            pos += 8;
            break;
          default:
            more = false;
            break;
        }
        if (more) ++counts_.messages;
      }
      if (pos == size) break;
      // The bytes that decide a message's length, or all of a fixed one but
      // SetPixelFormat's pixel format, which is skipped as its tail.
      tail_ = 0;
      switch (data[pos]) {
        case set_pixel_format:
          header_need_ = 4;
          tail_ = 16;
          break;
        case set_encodings:
          header_need_ = 4;
          break;
        case framebuffer_update_request:
          header_need_ = update_request.size();
          break;
        case key_event:
          header_need_ = 8;
          break;
        case pointer_event:
          header_need_ = 6;
          break;
        case client_cut_text:
          header_need_ = 8;
          break;
        default:
          error_ = "unknown client message type " + std::to_string(data[pos]);
          return false;
      }
    }
    const std::size_t n = std::min(size - pos, header_need_ - header_have_);
    std::memcpy(header_.data() + header_have_, data + pos, n);
    header_have_ += n;
    pos += n;
    if (header_have_ < header_need_) break;
    if (!header_done()) return false;
  }
  return true;
}

std::string ClientParser::summary() const {
  const ClientCounts& c = counts_;
  return "bytes=" + std::to_string(c.bytes) + " messages=" + std::to_string(c.messages) +
         " set_pixel_format=" + std::to_string(c.set_pixel_format) +
         " set_encodings=" + std::to_string(c.set_encodings) +
         " update_requests=" + std::to_string(c.update_requests) +
         " key_events=" + std::to_string(c.key_events) +
         " pointer_events=" + std::to_string(c.pointer_events) +
         " cut_texts=" + std::to_string(c.cut_texts);
}

std::array<std::uint8_t, ack_size> ack_message(std::uint64_t bytes, std::uint64_t update_requests) {
  std::array<std::uint8_t, ack_size> m{};
  m[0] = 3;  // ServerCutText
  put32(&m[4], 16);
  put_le64(&m[8], bytes);
  put_le64(&m[16], update_requests);
  return m;
}

std::optional<Ack> parse_ack(const std::array<std::uint8_t, ack_size>& record) {
  if (record[0] != 3 || record[1] != 0 || record[2] != 0 || record[3] != 0 ||
      be32(&record[4]) != 16) {
    return std::nullopt;
  }
  return Ack{le64(&record[8]), le64(&record[16])};
}

ClientStream client_stream(StreamKind kind, std::size_t size) {
  ClientStream out;
  out.bytes.reserve(size);
  const auto pixel = set_pixel_format_message();
  std::vector<std::uint8_t> encodings(4 + 4 * novnc_encodings.size());
  encodings[0] = set_encodings;
  put16(&encodings[2], static_cast<std::uint16_t>(novnc_encodings.size()));
  for (std::size_t i = 0; i < novnc_encodings.size(); ++i) {
    put32(&encodings[4 + 4 * i], static_cast<std::uint32_t>(novnc_encodings[i]));
  }
  const auto fits = [&](std::size_t n) { return out.bytes.size() + n <= size; };
  const auto request = [&] {
    append(out.bytes, update_request.data(), update_request.size());
    ++out.update_requests;
  };

  if (kind == StreamKind::viewer) {
    for (std::uint64_t i = 0;; ++i) {
      if (i % 42 == 0) {
        if (!fits(pixel.size())) break;
        append(out.bytes, pixel.data(), pixel.size());
      } else if (i % 42 == 1) {
        if (!fits(encodings.size())) break;
        append(out.bytes, encodings.data(), encodings.size());
      } else {
        if (!fits(update_request.size())) break;
        request();
      }
    }
    return out;
  }

  std::size_t since_request = 0;
  std::uint16_t x = 0, y = 0;
  for (std::uint64_t i = 0;; ++i) {
    if (since_request >= 234) {
      if (!fits(update_request.size())) break;
      request();
      since_request = 0;
      continue;
    }
    if (i % 4 != 3) {
      // Motion with no button, across the screen.
      std::array<std::uint8_t, 6> m{pointer_event, 0};
      x = static_cast<std::uint16_t>((x + 7) % screen_width);
      y = static_cast<std::uint16_t>((y + 3) % screen_height);
      put16(&m[2], x);
      put16(&m[4], y);
      if (!fits(m.size())) break;
      append(out.bytes, m.data(), m.size());
      since_request += m.size();
    } else {
      // 'a' pressed, then released.
      std::array<std::uint8_t, 8> m{key_event, static_cast<std::uint8_t>((i / 4) % 2 == 0)};
      put32(&m[4], 0x61);
      if (!fits(m.size())) break;
      append(out.bytes, m.data(), m.size());
      since_request += m.size();
    }
  }
  return out;
}

namespace {

net::awaitable<void> read_exact(Link& link, std::uint8_t* data, std::size_t size,
                                const char* what) {
  std::size_t got = 0;
  while (got < size) {
    // Never more than asked for: what follows stays with the link.
    auto [ec, n] = co_await link.read_some(net::buffer(data + got, size - got));
    if (ec) {
      const std::string why = link.close_reason();
      throw std::runtime_error(std::string("RFB ") + what + ": " + ec.message() +
                               (why.empty() ? "" : " (" + why + ")"));
    }
    got += n;
  }
}

net::awaitable<void> write_all(Link& link, const std::uint8_t* data, std::size_t size,
                               const char* what) {
  if (const error_code ec = co_await link.write(net::buffer(data, size))) {
    throw std::runtime_error(std::string("RFB ") + what + ": " + ec.message());
  }
}

}  // namespace

net::awaitable<void> browser_handshake(Link& link, bool request) {
  std::array<std::uint8_t, 12> server_version{};
  co_await read_exact(link, server_version.data(), server_version.size(), "server version");
  if (std::memcmp(server_version.data(), version.data(), version.size()) != 0) {
    throw std::runtime_error("RFB: the server does not speak RFB 3.8");
  }
  co_await write_all(link, reinterpret_cast<const std::uint8_t*>(version.data()), version.size(),
                     "client version");

  std::uint8_t count = 0;
  co_await read_exact(link, &count, 1, "security types");
  if (count == 0) throw std::runtime_error("RFB: the server refused the connection");
  std::vector<std::uint8_t> types(count);
  co_await read_exact(link, types.data(), types.size(), "security types");
  if (std::find(types.begin(), types.end(), security_none) == types.end()) {
    throw std::runtime_error("RFB: the server does not offer security None");
  }
  co_await write_all(link, &security_none, 1, "security choice");
  std::array<std::uint8_t, 4> result{};
  co_await read_exact(link, result.data(), result.size(), "security result");
  if (be32(result.data()) != 0) throw std::runtime_error("RFB: security result not OK");

  const std::uint8_t shared = 1;
  co_await write_all(link, &shared, 1, "ClientInit");
  std::array<std::uint8_t, 24> init{};
  co_await read_exact(link, init.data(), init.size(), "ServerInit");
  if (be16(&init[0]) == 0 || be16(&init[2]) == 0) {
    throw std::runtime_error("RFB: ServerInit with an empty screen");
  }
  std::string name(be32(&init[20]), '\0');
  if (name.size() > 4096) throw std::runtime_error("RFB: ServerInit with a name too long");
  co_await read_exact(link, reinterpret_cast<std::uint8_t*>(name.data()), name.size(),
                      "ServerInit name");

  if (request) {
    // As noVNC starts: its pixel format and encodings, then the whole screen.
    std::vector<std::uint8_t> start;
    const auto pixel = set_pixel_format_message();
    append(start, pixel.data(), pixel.size());
    const std::array<std::uint8_t, 8> raw_only = {set_encodings, 0, 0, 1, 0, 0, 0, 0};
    append(start, raw_only.data(), raw_only.size());
    std::array<std::uint8_t, 10> full = update_request;
    full[1] = 0;
    append(start, full.data(), full.size());
    co_await write_all(link, start.data(), start.size(), "first update request");
  }
}

}  // namespace cgw::bench::rfb
