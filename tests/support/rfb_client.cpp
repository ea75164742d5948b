#include "tests/support/rfb_client.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace cgw::test {
namespace {

std::uint32_t be(std::string_view bytes) {
  std::uint32_t v = 0;
  for (const char c : bytes) v = v << 8 | static_cast<unsigned char>(c);
  return v;
}

std::string key_event(std::uint32_t keysym, bool down) {
  std::string m(8, '\0');
  m[0] = 4;  // KeyEvent
  m[1] = down ? 1 : 0;
  for (int i = 0; i < 4; ++i) m[4 + i] = static_cast<char>(keysym >> (24 - 8 * i) & 0xff);
  return m;
}

constexpr std::uint32_t kShiftL = 0xffe1;
constexpr std::uint32_t kReturn = 0xff0d;

// Characters a US keyboard types with Shift held.
bool shifted(char c) {
  return (c >= 'A' && c <= 'Z') ||
         std::string_view("~!@#$%^&*()_+{}|:\"<>?").find(c) != std::string_view::npos;
}

}  // namespace

void rfb_type(WsClient& client, std::string_view text) {
  for (const char c : text) {
    // Latin-1 keysyms are the characters themselves.
    const std::uint32_t keysym = c == '\n' ? kReturn : static_cast<unsigned char>(c);
    std::string events;
    if (shifted(c)) events += key_event(kShiftL, true);
    events += key_event(keysym, true) + key_event(keysym, false);
    if (shifted(c)) events += key_event(kShiftL, false);
    client.write(events);
  }
}

ServerInit rfb_connect(WsClient& client) {
  EXPECT_EQ(client.read_exactly(kRfbVersion.size()), kRfbVersion);
  client.write(kRfbVersion);
  EXPECT_EQ(client.read_exactly(2), std::string("\x01\x01", 2)) << "one security type: None";
  client.write(std::string("\x01", 1));
  EXPECT_EQ(client.read_exactly(4), std::string(4, '\0')) << "SecurityResult OK";
  client.write(std::string("\x01", 1));  // ClientInit: shared
  const std::string head = client.read_exactly(24);
  ServerInit init;
  init.width = be(head.substr(0, 2));
  init.height = be(head.substr(2, 2));
  init.name = client.read_exactly(be(head.substr(20, 4)));
  return init;
}

std::pair<std::string, CloseFrame> rfb_refused(WsClient& client) {
  EXPECT_EQ(client.read_exactly(kRfbVersion.size()), kRfbVersion);
  client.write(kRfbVersion);
  EXPECT_EQ(client.read_exactly(1), std::string(1, '\0')) << "no security types";
  const std::string reason = client.read_exactly(be(client.read_exactly(4)));
  return {reason, client.read_until_close()};
}

}  // namespace cgw::test
