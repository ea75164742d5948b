// Unmasking of WebSocket payloads (RFC 6455 section 5.3), eight bytes at a time.
// Internal to the codec; in a header of its own so that tests can check it alone.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace cgw::websocket::detail {

// A masking key is held as the uint32_t whose bytes in memory are the key's four
// bytes in order, already rotated to the phase of the next payload byte.

// The key for the byte `bytes` further on.
constexpr std::uint32_t advance_mask(std::uint32_t mask, std::uint64_t bytes) noexcept {
  const int shift = static_cast<int>(bytes % 4) * 8;
  if constexpr (std::endian::native == std::endian::little) {
    return std::rotr(mask, shift);
  } else {
    return std::rotl(mask, shift);
  }
}

// dst[i] = src[i] ^ key byte (i mod 4), for i < n. dst and src may be the same buffer
// with dst <= src (the payload moves towards the front): each block is loaded before
// it is stored, and a store never reaches bytes not yet loaded.
inline void unmask(std::uint8_t* dst, const std::uint8_t* src, std::size_t n,
                   std::uint32_t mask) noexcept {
  // The key in both halves of a word: its bytes in memory are the key twice, in order,
  // whatever the byte order.
  const std::uint64_t key = (std::uint64_t{mask} << 32) | mask;
  std::size_t i = 0;
  for (; n - i >= 32; i += 32) {
    // Four words loaded, then four stored (GCC makes two 16-byte loads, xors, stores).
    std::uint64_t w0, w1, w2, w3;
    std::memcpy(&w0, src + i, 8);
    std::memcpy(&w1, src + i + 8, 8);
    std::memcpy(&w2, src + i + 16, 8);
    std::memcpy(&w3, src + i + 24, 8);
    w0 ^= key;
    w1 ^= key;
    w2 ^= key;
    w3 ^= key;
    std::memcpy(dst + i, &w0, 8);
    std::memcpy(dst + i + 8, &w1, 8);
    std::memcpy(dst + i + 16, &w2, 8);
    std::memcpy(dst + i + 24, &w3, 8);
  }
  for (; n - i >= 8; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, src + i, sizeof w);
    w ^= key;
    std::memcpy(dst + i, &w, sizeof w);
  }
  // i is a multiple of 8 here, so the key is still in phase at byte i.
  std::uint8_t k[4];
  std::memcpy(k, &mask, sizeof k);
  for (; i < n; ++i) {
    dst[i] = static_cast<std::uint8_t>(src[i] ^ k[i & 3]);
  }
}

}  // namespace cgw::websocket::detail
