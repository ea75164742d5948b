// Reverse proxies whose forwarding headers are believed. From a trusted proxy,
// X-Forwarded-For / X-Forwarded-Proto (or the standard Forwarded header) give
// the browser's address and scheme; from anyone else they are ignored, since any
// client can send them.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::gateway {

struct Cidr {
  boost::asio::ip::address network;
  unsigned prefix = 0;
  bool contains(const boost::asio::ip::address& address) const;
};

// "10.0.0.0/8", "::1", "192.168.1.7/32"; nullopt when malformed.
std::optional<Cidr> parse_cidr(std::string_view text);

struct ForwardedFor {
  std::string client;  // the browser's address as the proxy saw it
  std::string scheme;  // "http" or "https"
};

class TrustedProxies {
 public:
  TrustedProxies() = default;
  explicit TrustedProxies(const std::vector<std::string>& cidrs);  // entries already validated

  bool trusts(const boost::asio::ip::address& peer) const;

  // What a trusted proxy says; empty fields when it says nothing. Uses the
  // standard Forwarded header when present, else X-Forwarded-For/-Proto. Of a
  // list of hops, the last one is the address the proxy itself saw.
  static ForwardedFor read(std::string_view forwarded, std::string_view x_forwarded_for,
                           std::string_view x_forwarded_proto);

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace cgw::gateway
