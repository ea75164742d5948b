// VNC Authentication's DES, against single DES as OpenSSL's legacy provider does
// it (the vectors below came from `openssl enc -des-ecb -nopad -provider legacy`
// with the bit-reversed key), so the EDE3-with-equal-keys form is checked
// against an independent single-DES implementation.
#include "rfb/vnc_auth.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>

namespace cgw::rfb {
namespace {

std::string hex(const std::array<std::uint8_t, vnc_challenge_size>& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::array<std::uint8_t, vnc_challenge_size> counting(bool down) {
  std::array<std::uint8_t, vnc_challenge_size> c{};
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<std::uint8_t>(down ? 255 - i : i);
  return c;
}

TEST(VncAuth, EightCharacterPassword) {
  const auto response = vnc_auth_response("gw9f3x!k", counting(false));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(hex(*response), "d554653166430494343df433d1bd0f85");
}

TEST(VncAuth, ShortPasswordIsZeroPadded) {
  const auto response = vnc_auth_response("ab", counting(true));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(hex(*response), "2112f9f0ef3e1873961b087ad21d4a1c");
}

TEST(VncAuth, OnlyTheFirstEightCharactersCount) {
  EXPECT_EQ(vnc_auth_response("gw9f3x!k-and-more", counting(false)),
            vnc_auth_response("gw9f3x!k", counting(false)));
  EXPECT_NE(vnc_auth_response("gw9f3x!j", counting(false)),
            vnc_auth_response("gw9f3x!k", counting(false)));
}

}  // namespace
}  // namespace cgw::rfb
