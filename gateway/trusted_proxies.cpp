#include "gateway/trusted_proxies.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace cgw::gateway {
namespace {

namespace ip = boost::asio::ip;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// The last element of a comma-separated list: the hop nearest to us.
std::string_view last_item(std::string_view list) {
  const auto comma = list.rfind(',');
  return trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A Forwarded "for" value: 192.0.2.60, "[2001:db8::1]:4711", "198.51.100.17:8080".
std::string forwarded_node(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (!value.empty() && value.front() == '[') {
    const auto close = value.find(']');
    return close == std::string_view::npos ? std::string()
                                           : std::string(value.substr(1, close - 1));
  }
  if (std::count(value.begin(), value.end(), ':') == 1) value = value.substr(0, value.find(':'));
  return std::string(value);
}

// IPv4 in the first four bytes, IPv6 in all sixteen.
std::array<unsigned char, 16> address_bytes(const ip::address& address) {
  std::array<unsigned char, 16> out{};
  if (address.is_v4()) {
    const auto v4 = address.to_v4().to_bytes();
    std::copy(v4.begin(), v4.end(), out.begin());
  } else {
    out = address.to_v6().to_bytes();
  }
  return out;
}

}  // namespace

bool Cidr::contains(const ip::address& address) const {
  ip::address candidate = address;
  if (candidate.is_v6() && candidate.to_v6().is_v4_mapped() && network.is_v4()) {
    candidate = ip::make_address_v4(ip::v4_mapped, candidate.to_v6());
  }
  if (candidate.is_v4() != network.is_v4()) return false;
  const auto a = address_bytes(candidate);
  const auto n = address_bytes(network);
  unsigned bits = prefix;
  for (std::size_t i = 0; i < a.size() && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8u);
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - take));
    if ((a[i] & mask) != (n[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  boost::system::error_code ec;
  const auto address = ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  const unsigned max = address.is_v4() ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    auto [ptr, err] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (err != std::errc() || ptr != digits.data() + digits.size() || digits.empty() ||
        prefix > max) {
      return std::nullopt;
    }
  }
  return Cidr{address, prefix};
}

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) {
  for (const std::string& text : cidrs) {
    if (auto cidr = parse_cidr(text)) blocks_.push_back(*cidr);
  }
}

bool TrustedProxies::trusts(const ip::address& peer) const {
  return std::any_of(blocks_.begin(), blocks_.end(),
                     [&](const Cidr& c) { return c.contains(peer); });
}

ForwardedFor TrustedProxies::read(Headers headers, std::string_view forwarded,
                                  std::string_view x_forwarded_for,
                                  std::string_view x_forwarded_proto) {
  ForwardedFor out;
  if (headers == Headers::forwarded) {
    // RFC 7239: elements by comma, pairs by semicolon; the last element is the nearest hop.
    std::string_view element = last_item(forwarded);
    while (!element.empty()) {
      const auto semi = element.find(';');
      const std::string_view pair = trim(element.substr(0, semi));
      element = semi == std::string_view::npos ? std::string_view() : element.substr(semi + 1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string key = lower(trim(pair.substr(0, eq)));
      const std::string_view value = trim(pair.substr(eq + 1));
      if (key == "for") out.client = forwarded_node(value);
      if (key == "proto") out.scheme = lower(forwarded_node(value));
    }
  } else {
    if (!x_forwarded_for.empty()) out.client = forwarded_node(last_item(x_forwarded_for));
    if (!x_forwarded_proto.empty()) out.scheme = lower(last_item(x_forwarded_proto));
  }
  if (out.scheme != "http" && out.scheme != "https") out.scheme.clear();
  return out;
}

}  // namespace cgw::gateway
