#include "gateway/request_rules.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
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

// The request target is read on every upgrade, so it is scanned here in one
// pass rather than through Boost.URL (about 15k instructions a session for
// the path and the token), with Boost.URL's rules: RFC 3986 origin-form, the
// query's `+` read as a space, and a leading "/." before "/" not a segment.

// What each byte may be in an origin-form target: RFC 3986 pchar (unreserved /
// sub-delims / ":" / "@", or "%" and two hex digits) and "/", with "?" starting
// the query, where it is a plain character.
enum class TargetByte : unsigned char { invalid, plain, percent, question };
constexpr std::array<TargetByte, 256> target_bytes = [] {
  std::array<TargetByte, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = TargetByte::plain;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = TargetByte::plain;
  for (int c = '0'; c <= '9'; ++c) table[c] = TargetByte::plain;
  for (unsigned char c : std::string_view("-._~!$&'()*+,;=:@/")) table[c] = TargetByte::plain;
  table['%'] = TargetByte::percent;
  table['?'] = TargetByte::question;
  return table;
}();

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct OriginForm {
  std::string_view path;   // encoded, from the first '/'
  std::string_view query;  // encoded, without the '?'
  bool has_query = false;
};

// origin-form = absolute-path [ "?" query ]; nullopt for anything else.
std::optional<OriginForm> split_origin_form(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  OriginForm out;
  std::size_t query_at = std::string_view::npos;
  for (std::size_t i = 0; i < target.size(); ++i) {
    switch (target_bytes[static_cast<unsigned char>(target[i])]) {
      case TargetByte::plain:
        break;
      case TargetByte::percent:
        if (target.size() - i < 3 || hex_value(target[i + 1]) < 0 || hex_value(target[i + 2]) < 0)
          return std::nullopt;
        i += 2;
        break;
      case TargetByte::question:
        if (query_at == std::string_view::npos) query_at = i;
        break;
      case TargetByte::invalid:
        return std::nullopt;
    }
  }
  out.path = target.substr(0, query_at);
  if (query_at != std::string_view::npos) {
    out.has_query = true;
    out.query = target.substr(query_at + 1);
  }
  return out;
}

bool needs_decoding(std::string_view text, bool plus_is_space) {
  return text.find('%') != std::string_view::npos ||
         (plus_is_space && text.find('+') != std::string_view::npos);
}

// Decodes text that split_origin_form has checked (every '%' starts a valid escape).
std::string percent_decoded(std::string_view text, bool plus_is_space) {
  if (!needs_decoding(text, plus_is_space)) return std::string(text);  // tokens are base64url
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += plus_is_space && c == '+' ? ' ' : c;
    }
  }
  return out;
}

// The query parameter's value (decoded), when the key (decoded) is `name` and
// the value is not empty.
std::optional<std::string> query_value(std::string_view query, std::string_view name) {
  for (;;) {
    const auto amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && eq + 1 < param.size()) {
      const std::string_view key = param.substr(0, eq);
      if (key == name || (needs_decoding(key, true) && percent_decoded(key, true) == name)) {
        std::string value = percent_decoded(param.substr(eq + 1), true);
        if (!value.empty()) return value;
      }
    }
    if (amp == std::string_view::npos) return std::nullopt;
    query.remove_prefix(amp + 1);
  }
}

// The path's one segment (decoded), or nullopt when it has none or several.
std::optional<std::string> only_segment(std::string_view path) {
  // Boost.URL keeps a "/." before "/" out of the segments (it lets a path start
  // with an empty segment); so do we.
  if (path.starts_with("/./")) path.remove_prefix(2);
  if (path == "/" || path.find('/', 1) != std::string_view::npos) return std::nullopt;
  return percent_decoded(path.substr(1), false);
}

}  // namespace

std::optional<std::string> decoded_path(std::string_view target) {
  const auto parsed = split_origin_form(target);
  if (!parsed) return std::nullopt;
  return percent_decoded(parsed->path, false);
}

std::optional<std::string> find_token(std::string_view target, std::string_view cookie_header) {
  const auto parsed = split_origin_form(target);
  if (!parsed) return std::nullopt;

  if (parsed->has_query) {
    if (auto value = query_value(parsed->query, "token")) return value;
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
  auto segment = only_segment(parsed->path);
  if (segment && !segment->empty() && *segment != "websockify") return segment;
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

std::optional<std::string_view> host_header_problem(unsigned version, std::size_t host_headers) {
  if (host_headers > 1) return "more than one Host header";
  if (host_headers == 0 && version >= 11) return "HTTP/1.1 request without a Host header";
  return std::nullopt;
}

}  // namespace cgw::gateway
