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

  // Which headers the proxy in front writes. Only those are read: a browser can
  // send the other kind, and a proxy that does not know it passes it through.
  enum class Headers { x_forwarded, forwarded };

  // What a trusted proxy says; empty fields when it says nothing. Each value is
  // every field line of that header joined with ',' (a proxy may add a line
  // rather than append to the browser's); the last hop is the one the proxy saw.
  static ForwardedFor read(Headers headers, std::string_view forwarded,
                           std::string_view x_forwarded_for, std::string_view x_forwarded_proto);

 private:
  std::vector<Cidr> blocks_;
};

}  // namespace cgw::gateway
