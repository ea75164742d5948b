#include "tunnel/host_route.hpp"

#include <boost/url/parse.hpp>

#include <charconv>

namespace cgw::tunnel {

std::optional<LibvirtUri> parse_libvirt_uri(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return std::nullopt;
  const auto& url = *parsed;
  LibvirtUri out;
  std::string_view scheme = url.scheme();
  if (scheme.empty()) return std::nullopt;
  if (auto plus = scheme.find('+'); plus != std::string_view::npos) {
    out.driver = std::string(scheme.substr(0, plus));
    out.transport = std::string(scheme.substr(plus + 1));
  } else {
    out.driver = std::string(scheme);
  }
  if (url.has_authority()) {
    out.user = url.user();
    out.host = url.host_address();
    // An IPv6 literal comes as "[::1]"; routing wants the bare address.
    if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
      out.host = out.host.substr(1, out.host.size() - 2);
    }
    if (url.has_port()) {
      std::string_view port = url.port();
      unsigned value = 0;
      auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
      if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 || value > 65535) {
        return std::nullopt;
      }
      out.port = static_cast<std::uint16_t>(value);
    }
  }
  return out;
}

bool is_local(const LibvirtUri& uri) { return uri.host.empty(); }

}  // namespace cgw::tunnel
