// The command line: `console-gw [flags]` serves; `console-gw token ...` mints a
// token. Bad flags raise ConfigError (one line naming the flag and the problem).
#pragma once

#include "gateway/config.hpp"

#include <chrono>
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
  std::optional<std::string> console;  // "vnc" | "spice"
  std::chrono::seconds ttl{60};
  std::string signing_key;
  std::optional<std::string> audience;
};

struct HelpCommand {
  std::string text;
};

struct VersionCommand {};

using Command = std::variant<ServeCommand, TokenCommand, HelpCommand, VersionCommand>;

Command parse_command_line(const std::vector<std::string>& args);

}  // namespace cgw::gateway
