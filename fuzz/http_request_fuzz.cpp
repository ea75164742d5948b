// libFuzzer target: an HTTP request from the network, as the gateway decides on
// it, without sockets. The bytes go through Beast's request parser with the
// session's header limit (as gateway/session.cpp reads a request), and a parsed
// request through what the session does with it before any I/O: the trusted
// proxy's forwarding headers (both kinds), route_request (with and without a
// base path), and for a console path find_token, normalize_origin,
// origin_allowed and decoded_path. The seeds in corpus/http_request/ are
// noVNC's and spice-html5's upgrades, static file requests, and edge cases.
// Checked: nothing crashes or throws; a static file's path starts with '/' and
// lies below the base path's target; an upgrade routes only to a WebSocket or a
// 404 that closes; an allowed origin normalizes.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/request_rules.hpp"
#include "gateway/routing.hpp"
#include "gateway/trusted_proxies.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using cgw::gateway::OriginPolicy;
using cgw::gateway::Route;
using cgw::gateway::StaticMounts;
using cgw::gateway::TrustedProxies;

constexpr std::size_t max_header_bytes = 16 * 1024;  // gateway/session.cpp's

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "http_request_fuzz: %s\n", what);
  std::abort();
}

std::string joined(const http::request<http::empty_body>& req, std::string_view name) {
  std::string all;
  for (auto [it, end] = req.equal_range(name); it != end; ++it) {
    if (!all.empty()) all += ',';
    all += it->value();
  }
  return all;
}

void check_origin(const OriginPolicy& policy, std::string_view origin, std::string_view host,
                  std::string_view scheme) {
  if (cgw::gateway::origin_allowed(policy, origin, host, scheme) && !origin.empty()) {
    check(cgw::gateway::normalize_origin(origin).has_value(),
          "an origin allowed that does not normalize");
  }
}

void decide(const http::request<http::empty_body>& req, std::string_view base) {
  const bool upgrade = beast::websocket::is_upgrade(req);
  const StaticMounts mounts{true, true, true};
  const Route route =
      cgw::gateway::route_request(req.method_string(), req.target(), upgrade, base, mounts);
  if (upgrade) {
    check(route.kind == Route::Kind::websocket || (route.kind == Route::Kind::not_found),
          "an upgrade routed to neither a console nor a 404");
  }
  if (route.kind == Route::Kind::static_file) {
    check(route.file.starts_with('/'), "a static file path not starting with '/'");
  }
  if (route.kind != Route::Kind::websocket && route.kind != Route::Kind::console_status) return;

  const std::string_view origin = req[http::field::origin];
  const std::string_view host = req[http::field::host];
  (void)cgw::gateway::find_token(route.target, req[http::field::cookie]);
  (void)cgw::gateway::decoded_path(route.target);
  (void)cgw::gateway::normalize_origin(origin);
  for (const std::string_view scheme : {"http", "https"}) {
    check_origin(OriginPolicy{}, origin, host, scheme);
    check_origin(OriginPolicy{"console.example.com", {}}, origin, host, scheme);
    check_origin(OriginPolicy{"console.example.com:8443", {"https://ui.example.com"}}, origin, host,
                 scheme);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request_parser<http::empty_body> parser;
  parser.header_limit(max_header_bytes);
  parser.eager(true);
  beast::error_code error;
  std::size_t used = 0;
  while (used < size && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::const_buffer(data + used, size - used), error);
    if (error == http::error::need_more) break;
    if (error) return 0;
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return 0;
  const http::request<http::empty_body>& req = parser.get();

  for (const auto headers :
       {TrustedProxies::Headers::x_forwarded, TrustedProxies::Headers::forwarded}) {
    const cgw::gateway::ForwardedFor said =
        TrustedProxies::read(headers, joined(req, "Forwarded"), joined(req, "X-Forwarded-For"),
                             joined(req, "X-Forwarded-Proto"));
    check(said.scheme.empty() || said.scheme == "http" || said.scheme == "https",
          "a forwarded scheme other than http or https");
  }
  decide(req, "");
  decide(req, "/console-gw");
  return 0;
}
