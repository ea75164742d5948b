// Which forwarding headers count, and what they say.
#include "gateway/trusted_proxies.hpp"

#include <gtest/gtest.h>

namespace cgw::gateway {
namespace {

using Headers = TrustedProxies::Headers;
namespace ip = boost::asio::ip;

TEST(TrustedProxies, CidrsMatchTheirBlocksOnly) {
  const TrustedProxies proxies({"127.0.0.1/32", "10.1.0.0/16", "fd00::/8"});
  EXPECT_TRUE(proxies.trusts(ip::make_address("127.0.0.1")));
  EXPECT_FALSE(proxies.trusts(ip::make_address("127.0.0.2")));
  EXPECT_TRUE(proxies.trusts(ip::make_address("10.1.255.3")));
  EXPECT_FALSE(proxies.trusts(ip::make_address("10.2.0.1")));
  EXPECT_TRUE(proxies.trusts(ip::make_address("fd12::1")));
  EXPECT_FALSE(proxies.trusts(ip::make_address("fe80::1")));
  EXPECT_TRUE(proxies.trusts(ip::make_address("::ffff:10.1.0.9")));  // v4-mapped
  EXPECT_FALSE(TrustedProxies().trusts(ip::make_address("127.0.0.1")));
}

TEST(TrustedProxies, CidrParsing) {
  EXPECT_TRUE(parse_cidr("192.168.1.7"));
  EXPECT_TRUE(parse_cidr("0.0.0.0/0"));
  EXPECT_TRUE(parse_cidr("::1/128"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/33"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/"));
  EXPECT_FALSE(parse_cidr("10.0.0.0/8x"));
  EXPECT_FALSE(parse_cidr("proxy.example.com"));
}

TEST(TrustedProxies, XForwardedTakesTheHopTheProxySaw) {
  // A browser's forged value first, the proxy's own entry last.
  const auto said =
      TrustedProxies::read(Headers::x_forwarded, "", "203.0.113.9, 198.51.100.4", "https");
  EXPECT_EQ(said.client, "198.51.100.4");
  EXPECT_EQ(said.scheme, "https");
}

TEST(TrustedProxies, XForwardedIgnoresAForwardedHeaderTheBrowserSent) {
  const auto said = TrustedProxies::read(Headers::x_forwarded, "for=203.0.113.9;proto=https",
                                         "198.51.100.4", "http");
  EXPECT_EQ(said.client, "198.51.100.4");
  EXPECT_EQ(said.scheme, "http");
}

TEST(TrustedProxies, ForwardedIgnoresXForwardedTheBrowserSent) {
  const auto said = TrustedProxies::read(Headers::forwarded,
                                         "for=203.0.113.9, for=\"[2001:db8::1]:4711\";proto=https",
                                         "192.0.2.66", "http");
  EXPECT_EQ(said.client, "2001:db8::1");
  EXPECT_EQ(said.scheme, "https");
}

TEST(TrustedProxies, NothingSaidOrNonsenseSchemes) {
  const auto none = TrustedProxies::read(Headers::x_forwarded, "", "", "");
  EXPECT_TRUE(none.client.empty());
  EXPECT_TRUE(none.scheme.empty());
  EXPECT_TRUE(TrustedProxies::read(Headers::x_forwarded, "", "", "gopher").scheme.empty());
  EXPECT_EQ(TrustedProxies::read(Headers::forwarded, "for=192.0.2.1:8080", "", "").client,
            "192.0.2.1");
}

}  // namespace
}  // namespace cgw::gateway
