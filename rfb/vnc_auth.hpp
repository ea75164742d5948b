// VNC Authentication (RFB security type 2): the response to the server's
// 16-byte challenge is the challenge DES-encrypted (ECB, two blocks) with the
// password as the key: its first 8 bytes, zero-padded, each byte's bits
// reversed (RFB 3.8, section 7.2.2, and every VNC server's reading of it).
//
// OpenSSL 3 keeps single DES in its legacy provider only. Triple DES (EDE) with
// three equal keys is single DES (E_k(D_k(E_k(x))) = E_k(x)) and is in the
// default provider, so that is the form used here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace cgw::rfb {

inline constexpr std::size_t vnc_challenge_size = 16;

// The 16-byte response, or nullopt when OpenSSL could not encrypt (no cipher).
std::optional<std::array<std::uint8_t, vnc_challenge_size>> vnc_auth_response(
    std::string_view password, std::span<const std::uint8_t, vnc_challenge_size> challenge);

}  // namespace cgw::rfb
