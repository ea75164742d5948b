// Routing: what a request asks for, decided from the request alone, apart from
// the stream that writes the answer (as Beast's advanced_server_flex.cpp does in
// handle_request). The session then answers each kind of route.
#pragma once

#include <string>
#include <string_view>

namespace cgw::gateway {

// Which static roots are configured (each is optional).
struct StaticMounts {
  bool novnc = false;  // <base>/novnc/
  bool spice = false;  // <base>/spice/
  bool web = false;    // <base>/ (--web DIR)
  bool xterm = false;  // <base>/xterm/ (serial consoles)
};

struct Route {
  enum class Kind {
    websocket,           // an upgrade on a console path: authorise, open, pump
    method_not_allowed,  // 405: only GET and HEAD
    bad_target,          // 400: a target that does not decode
    health,              // /healthz
    metrics,             // /metrics: Prometheus, for the peers gateway.metrics_allow names
    console_page,        // /console: the popup page
    favicon,             // /favicon.ico: 204
    console_status,      // a console path without an upgrade: the refusal, or 426
    static_file,         // a file below `mount`
    not_found,           // 404; `close` says whether the connection ends after it
  };
  enum class Mount { novnc, spice, xterm, web };

  Kind kind = Kind::not_found;
  bool close = false;  // end the connection after answering (the request is broken)
  std::string target;  // the target below the base path (the token is found in it)
  Mount mount = Mount::web;
  std::string file;  // static_file: the decoded path below the mount, starting with '/'
};

// `method` is the request's ("GET", "HEAD", ...), `target` its whole target and
// `upgrade` whether it asks for a WebSocket (Beast's websocket::is_upgrade).
Route route_request(std::string_view method, std::string_view target, bool upgrade,
                    std::string_view base_path, const StaticMounts& mounts);

// Sets `below` to the target below `base` ("" or "/prefix"); false when the
// target lies outside it.
bool strip_base_path(std::string_view base, std::string_view target, std::string& below);

// "/", "/websockify" or "/<token>" (one non-empty segment).
bool is_websocket_path(std::string_view decoded_path);

}  // namespace cgw::gateway
