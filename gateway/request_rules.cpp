#include "gateway/request_rules.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace cgw::gateway {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

struct Authority {
  std::string host;  // lower case, IPv6 without brackets
  std::optional<unsigned> port;
};

std::optional<Authority> read_authority(std::string_view text) {
  auto parsed = boost::urls::parse_authority(text);
  if (!parsed || parsed->has_userinfo()) return std::nullopt;
  Authority out;
  out.host = lower(parsed->host_address());
  if (out.host.size() > 2 && out.host.front() == '[')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty()) return std::nullopt;
  if (parsed->has_port()) {
    if (parsed->port().empty()) return std::nullopt;
    out.port = parsed->port_number();
    if (*out.port == 0) return std::nullopt;
  }
  return out;
}

unsigned default_port(std::string_view scheme) {
  return scheme == "https" || scheme == "wss" ? 443 : 80;
}

struct Origin {
  std::string scheme;
  Authority authority;
  unsigned port() const { return authority.port.value_or(default_port(scheme)); }
};

std::optional<Origin> parse_origin(std::string_view text) {
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return std::nullopt;
  Origin out;
  out.scheme = lower(parsed->scheme());
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  if (!parsed->has_authority() || parsed->has_query() || parsed->has_fragment())
    return std::nullopt;
  if (!parsed->encoded_path().empty() && parsed->encoded_path() != "/") return std::nullopt;
  auto authority = read_authority(parsed->encoded_authority());
  if (!authority) return std::nullopt;
  out.authority = std::move(*authority);
  return out;
}

}  // namespace

std::optional<std::string> decoded_path(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  return std::string(parsed->path());
}

std::optional<std::string> find_token(std::string_view target, std::string_view cookie_header) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;

  for (const auto& param : parsed->params()) {
    if (param.key == "token" && param.has_value && !param.value.empty())
      return std::string(param.value);
  }

  std::string_view cookies = cookie_header;
  while (!cookies.empty()) {
    const auto semi = cookies.find(';');
    std::string_view pair = trim(cookies.substr(0, semi));
    cookies = semi == std::string_view::npos ? std::string_view{} : cookies.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != "token") continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!value.empty()) return std::string(value);
  }

  // "/<token>": a single path segment that is not one of the gateway's own paths.
  const auto segments = parsed->segments();
  if (segments.size() == 1) {
    std::string segment = *segments.begin();
    if (!segment.empty() && segment != "websockify") return segment;
  }
  return std::nullopt;
}

std::optional<std::string> normalize_origin(std::string_view text) {
  auto origin = parse_origin(text);
  if (!origin) return std::nullopt;
  std::string out = origin->scheme;
  out += "://";
  const bool v6 = origin->authority.host.find(':') != std::string::npos;
  if (v6) out += '[';
  out += origin->authority.host;
  if (v6) out += ']';
  if (origin->port() != default_port(origin->scheme)) {
    out += ':';
    out += std::to_string(origin->port());
  }
  return out;
}

bool origin_allowed(const OriginPolicy& policy, std::string_view origin_header,
                    std::string_view host_header, std::string_view scheme) {
  if (origin_header.empty()) return true;
  auto origin = parse_origin(origin_header);
  if (!origin) return false;  // includes "null": sandboxed frames and file:// pages

  const auto normalized = normalize_origin(origin_header);
  for (const std::string& allowed : policy.allowed_origins) {
    if (normalize_origin(allowed) == normalized) return true;
  }

  if (!policy.public_host.empty()) {
    // The name browsers use; with a port, that port too.
    auto expected = read_authority(policy.public_host);
    if (!expected || expected->host != origin->authority.host) return false;
    return !expected->port || *expected->port == origin->port();
  }
  // Same origin as the request itself: the Host it was sent to, over `scheme`.
  auto expected = read_authority(host_header);
  if (!expected || expected->host != origin->authority.host) return false;
  return expected->port.value_or(default_port(scheme)) == origin->port();
}

}  // namespace cgw::gateway
