// The two SSH wire encodings the tunnel writes itself (RFC 4251 section 5):
// uint32 in network order, and string as a uint32 length and the bytes.
// Internal to cgw::tunnel.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace cgw::tunnel {

using Bytes = std::vector<unsigned char>;

inline void put_u32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<unsigned char>(value >> shift));
  }
}

inline void put_string(Bytes& out, const unsigned char* data, std::size_t size) {
  put_u32(out, static_cast<std::uint32_t>(size));
  out.insert(out.end(), data, data + size);
}

inline void put_string(Bytes& out, std::string_view text) {
  put_string(out, reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

}  // namespace cgw::tunnel
