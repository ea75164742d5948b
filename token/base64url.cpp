#include "token/base64url.hpp"

#include <array>
#include <cstdint>

namespace cgw::token::detail {
namespace {

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::uint8_t invalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& entry : table) entry = invalid;
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}

constexpr auto decode_table = make_decode_table();

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t bits = 0;
  int pending = 0;
  for (const char c : bytes) {
    bits = (bits << 8) | static_cast<unsigned char>(c);
    pending += 8;
    while (pending >= 6) {
      pending -= 6;
      out.push_back(alphabet[(bits >> pending) & 0x3f]);
    }
  }
  if (pending > 0) out.push_back(alphabet[(bits << (6 - pending)) & 0x3f]);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  // One leftover character carries only 6 bits, less than a byte: no encoder
  // produces that length.
  const std::size_t rest = text.size() % 4;
  if (rest == 1) return std::nullopt;
  const std::size_t groups = text.size() / 4;
  std::string out(groups * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  char* to = out.data();
  // Every value is below 64, and `invalid` has the two high bits set.
  constexpr std::uint32_t high_bits = 0xc0;
  for (std::size_t g = 0; g < groups; ++g, in += 4, to += 3) {
    const std::uint32_t a = decode_table[in[0]], b = decode_table[in[1]], c = decode_table[in[2]],
                        d = decode_table[in[3]];
    if (((a | b | c | d) & high_bits) != 0) return std::nullopt;
    const std::uint32_t bits = (a << 18) | (b << 12) | (c << 6) | d;
    to[0] = static_cast<char>(bits >> 16);
    to[1] = static_cast<char>((bits >> 8) & 0xff);
    to[2] = static_cast<char>(bits & 0xff);
  }
  if (rest == 0) return out;
  const std::uint32_t a = decode_table[in[0]], b = decode_table[in[1]],
                      c = rest == 3 ? decode_table[in[2]] : 0;
  if (((a | b | c) & high_bits) != 0) return std::nullopt;
  const std::uint32_t bits = (a << 18) | (b << 12) | (c << 6);
  // Non-zero padding bits would give a second spelling of the same bytes, which
  // lets a signature segment be altered without changing what it decodes to.
  const std::uint32_t padding = rest == 2 ? bits & 0xffff : bits & 0xff;
  if (padding != 0) return std::nullopt;
  to[0] = static_cast<char>(bits >> 16);
  if (rest == 3) to[1] = static_cast<char>((bits >> 8) & 0xff);
  return out;
}

}  // namespace cgw::token::detail
