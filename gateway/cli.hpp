// The command line: `console-gw [flags]` serves; `console-gw token ...` mints a
// token. Bad flags raise ConfigError (one line naming the flag and the problem).
#pragma once

#include "gateway/config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cgw::gateway {

struct ServeCommand {
  Config config;
};

struct TokenCommand {
  std::string host_id;
  std::string uuid;
  std::optional<std::string> console;  // "vnc" | "spice" | "serial"
  std::optional<std::string> device;   // serial: the device's alias ("serial0")
  bool force = false;                  // serial: take the console over
  bool view_only = false;
  bool record = false;    // the "record" claim: the session is recorded
  bool one_time = false;  // a random "jti": the token opens a console once
  std::chrono::seconds ttl{60};
  std::string signing_key;
  std::optional<std::string> audience;
};

// `console-gw url`: a console URL on public_host with a fresh token.
struct UrlCommand {
  TokenCommand token;  // signing_key may be empty: then the config's
  Config config;
};

// `console-gw replay FILE`: a recording shown to noVNC as if live (replay.hpp).
struct ReplayCommand {
  std::string file;
  double speed = 1.0;  // 2: twice as fast
  std::string listen = "127.0.0.1";
  std::uint16_t port = 6080;
  std::string novnc_dir = "/usr/share/novnc";
};

struct HelpCommand {
  std::string text;
};

struct VersionCommand {};

using Command = std::variant<ServeCommand, TokenCommand, UrlCommand, ReplayCommand, HelpCommand,
                             VersionCommand>;

// The console page's URL for a token: <scheme>://<public_host><base_path>/console?token=...
std::string console_url(const Config& config, const std::string& token);

Command parse_command_line(const std::vector<std::string>& args);

}  // namespace cgw::gateway
