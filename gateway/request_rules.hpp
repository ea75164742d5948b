// Pure rules applied to an incoming request: where its token is, and whether its
// Origin may open a console. No I/O; tested by tables.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::gateway {

// The token, from (in this order) the query parameter `token` (noVNC's
// path=websockify?token=...), the cookie `token` (WebVirtMgr), or the last path
// segment ("/<token>"). `path` is the request path after any base path, without
// the query. Returns nullopt when there is none.
std::optional<std::string> find_token(std::string_view target, std::string_view cookie_header);

struct OriginPolicy {
  std::string public_host;                   // "name" or "name:port"; empty: use the Host header
  std::vector<std::string> allowed_origins;  // full origins: "https://ui.example.com"
};

// A browser always sends Origin on a WebSocket; clients that are not browsers
// may omit it, and the token is what protects those. The Origin's host must be
// public_host's (any port when public_host names none), else the Host header's,
// with the Host's port or, without one, the default port of `scheme` ("http" or
// "https": the scheme the browser used, as a trusted proxy reports it).
bool origin_allowed(const OriginPolicy& policy, std::string_view origin,
                    std::string_view host_header, std::string_view scheme);

// "https://UI.example.com:443" → "https://ui.example.com"; nullopt if not an origin.
std::optional<std::string> normalize_origin(std::string_view origin);

// Splits a request target into its decoded path; nullopt if malformed.
std::optional<std::string> decoded_path(std::string_view target);

// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one Host header; HTTP/1.0
// may omit it. `version` is Beast's (11 for HTTP/1.1), `host_headers` how many
// Host fields the request has. The problem in words for the 400, or nullopt.
std::optional<std::string_view> host_header_problem(unsigned version, std::size_t host_headers);

}  // namespace cgw::gateway
