#include "gateway/routing.hpp"

#include "gateway/request_rules.hpp"

#include <initializer_list>

namespace cgw::gateway {
namespace {

// "%2f" spells a '/' that is not a separator: a static path with one (or any
// case of it) is nobody's file, so "/novnc%2f..%2f" never becomes a path.
bool has_encoded_slash(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  for (auto at = path.find('%'); at != std::string_view::npos; at = path.find('%', at + 1)) {
    if (path.size() - at >= 3 && path[at + 1] == '2' &&
        (path[at + 2] == 'f' || path[at + 2] == 'F'))
      return true;
  }
  return false;
}

}  // namespace

bool strip_base_path(std::string_view base, std::string_view target, std::string& below) {
  if (base.empty()) {
    below = target;
    return true;
  }
  if (!target.starts_with(base)) return false;
  const std::string_view rest = target.substr(base.size());
  if (rest.empty()) {
    below = "/";
  } else if (rest.front() == '?') {
    below = "/" + std::string(rest);
  } else if (rest.front() == '/') {
    below = rest;
  } else {
    return false;
  }
  return true;
}

bool is_websocket_path(std::string_view path) {
  if (path == "/" || path == "/websockify") return true;
  return path.size() > 1 && path.find('/', 1) == std::string_view::npos;
}

Route route_request(std::string_view method, std::string_view target, bool upgrade,
                    std::string_view base_path, const StaticMounts& mounts) {
  using Kind = Route::Kind;
  Route route;
  if (!strip_base_path(base_path, target, route.target)) return route;  // 404, keep going

  if (upgrade) {
    const auto path = decoded_path(route.target);
    route.kind = path && is_websocket_path(*path) ? Kind::websocket : Kind::not_found;
    route.close = route.kind == Kind::not_found;
    return route;
  }
  if (method != "GET" && method != "HEAD") {
    route.kind = Kind::method_not_allowed;
    route.close = true;
    return route;
  }
  const auto path = decoded_path(route.target);
  if (!path) {
    route.kind = Kind::bad_target;
    route.close = true;
    return route;
  }
  if (*path == "/healthz") {
    route.kind = Kind::health;
  } else if (*path == "/metrics") {
    route.kind = Kind::metrics;
  } else if (*path == "/console") {
    route.kind = Kind::console_page;
  } else if (*path == "/favicon.ico") {
    route.kind = Kind::favicon;
  } else if (*path == "/websockify" || (*path == "/" && find_token(route.target, {}).has_value())) {
    // The same checks as a WebSocket, answered as an HTTP status with the same words.
    route.kind = Kind::console_status;
  } else {
    // The clients, from Debian's packages, then the operator's own directory. A
    // path below a configured client's prefix is that client's or nobody's.
    struct Candidate {
      std::string_view prefix;
      bool configured;
      Route::Mount mount;
    };
    for (const Candidate& c : {Candidate{"/novnc/", mounts.novnc, Route::Mount::novnc},
                               Candidate{"/spice/", mounts.spice, Route::Mount::spice},
                               Candidate{"/xterm/", mounts.xterm, Route::Mount::xterm},
                               Candidate{"/", mounts.web, Route::Mount::web}}) {
      if (!c.configured || !path->starts_with(c.prefix)) continue;
      if (has_encoded_slash(route.target)) break;  // 404
      route.kind = Kind::static_file;
      route.mount = c.mount;
      route.file = path->substr(c.prefix.size() - 1);
      break;
    }
  }
  return route;
}

}  // namespace cgw::gateway
