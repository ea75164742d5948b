#include "gateway/cli.hpp"

#include "common/log.hpp"
#include "token/token.hpp"

#include <charconv>
#include <utility>

namespace cgw::gateway {
namespace {

constexpr const char* serve_usage = R"(usage: console-gw [options]
       console-gw token --host ID --uuid UUID [--console vnc|spice|serial] [--ttl 60s]
                        [--view-only] [--record] [--one-time] [--audience AUD]
                        --signing-key FILE
       console-gw url --host ID --uuid UUID [--console vnc|spice|serial] [--ttl 60s]
                      [--config FILE] [--signing-key FILE] [--public-host NAME]
                      [--base-path PREFIX]
       console-gw setup [--answers FILE] [--dry-run] [--root DIR]
       console-gw check [--config FILE] [--no-hosts]
       console-gw replay FILE [--speed N] [--listen ADDR] [--ws-port P] [--novnc-dir DIR]

A WebSocket gateway to libvirt VM consoles (noVNC, spice-html5).

options:
  --config FILE       TOML configuration (see etc/console-gw.toml); flags override it
  --listen ADDR       address to listen on (default 0.0.0.0)
  --ws-port N         port for ws:// and wss:// (default 6080)
  --public-host NAME  the host name browsers use to reach the gateway (origin check)
  --cert PEM          TLS certificate chain; enables wss:// on the same port
  --key PEM           TLS private key (default: the --cert file)
  --ssl-only          refuse plain ws:// and http://
  --web DIR           serve static files from DIR at the base path
  --base-path PREFIX  serve everything under PREFIX (e.g. /console-gw), behind a proxy
  --log-level LEVEL   debug, info, warn or error (default info)
  --log-format FMT    text or json (one JSON object per line; default text)
  --help              this text
  --version           the version
)";

constexpr const char* url_usage =
    R"(usage: console-gw url --host ID --uuid UUID [--console vnc|spice|serial] [--ttl 60s]
                      [--device ALIAS] [--force] [--view-only] [--record] [--config FILE]
                      [--signing-key FILE] [--public-host NAME]
                      [--base-path PREFIX]

Prints the console page's URL, <scheme>://<public_host><base_path>/console?token=...,
with a fresh token. The signing key is --signing-key, else tokens.signing_key_file,
else tokens.key_file when that is an HS256 secret. The scheme is
gateway.public_scheme, else https when the gateway has a certificate.
)";

constexpr const char* token_usage =
    R"(usage: console-gw token --host ID --uuid UUID [--console vnc|spice|serial]
                        [--device ALIAS] [--force] [--ttl 60s] [--view-only] [--record]
                        [--one-time] [--audience AUD] --signing-key FILE

Prints a signed console token. FILE is an HS256 shared secret or a PEM private
key (EC P-256: ES256, Ed25519: EdDSA, RSA: RS256). --view-only: the console
shows the screen and drops the browser's keyboard, mouse and clipboard (VNC).
--record: the session is recorded ([recording] in the gateway's config).
--one-time: the token carries a random "jti" and opens a console once (a
SPICE console's further channels follow within 30 s from the same address).
--console serial: the domain's serial console through libvirt; --device names
it by its alias (serial0, console0; default the first), --force takes it over
from another client that holds it.
)";

constexpr const char* replay_usage =
    R"(usage: console-gw replay FILE [--speed N] [--listen ADDR] [--ws-port P]
                         [--novnc-dir DIR]

Shows a session recording (docs/recording.md) to noVNC as if it were live, at N
times its speed (default 1; 0.5 is half as fast), read-only: the browser's
keyboard and mouse are dropped. Serves the console page and noVNC on ADDR
(default 127.0.0.1) and port P (default 6080), and prints the URL to open.
Recordings are as sensitive as the screens they show: keep ADDR local.
)";

[[noreturn]] void bad(const std::string& flag, const std::string& problem) {
  throw ConfigError(flag + ": " + problem);
}

// Walks the arguments; a flag's value is the next argument or follows '='.
class Args {
 public:
  explicit Args(const std::vector<std::string>& args, std::size_t start) : args_(args), i_(start) {}
  bool done() const { return i_ >= args_.size(); }
  std::string next_flag() {
    std::string arg = args_[i_++];
    value_.reset();
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
      value_ = arg.substr(eq + 1);
      arg.resize(eq);
    }
    return arg;
  }
  std::string value(const std::string& flag) {
    if (value_) return *std::exchange(value_, std::nullopt);
    if (done()) bad(flag, "needs a value");
    return args_[i_++];
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t i_;
  std::optional<std::string> value_;
};

std::uint16_t port_value(const std::string& flag, const std::string& text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0 || value > 65535) {
    bad(flag, "must be a port number 1-65535, got '" + text + "'");
  }
  return static_cast<std::uint16_t>(value);
}

// The flags `token` and `url` share; returns false for a flag it doesn't know.
bool token_flag(const std::string& flag, Args& args, TokenCommand& cmd) {
  if (flag == "--host") {
    cmd.host_id = args.value(flag);
    if (!valid_host_id(cmd.host_id)) bad(flag, "host IDs may contain only letters, digits and '_'");
  } else if (flag == "--uuid") {
    cmd.uuid = args.value(flag);
  } else if (flag == "--console") {
    cmd.console = args.value(flag);
    if (*cmd.console != "vnc" && *cmd.console != "spice" && *cmd.console != "serial") {
      bad(flag, "must be vnc, spice or serial");
    }
  } else if (flag == "--device") {
    cmd.device = args.value(flag);
    if (!token::valid_device_name(*cmd.device)) {
      bad(flag, "must be a device alias such as serial0 ([A-Za-z0-9_.-], at most 64)");
    }
  } else if (flag == "--force") {
    cmd.force = true;
  } else if (flag == "--ttl") {
    const std::string text = args.value(flag);
    auto ttl = parse_duration(text);
    if (!ttl || ttl->count() < 1000)
      bad(flag, "must be a duration such as 60s or 10m, got '" + text + "'");
    cmd.ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
  } else if (flag == "--signing-key") {
    cmd.signing_key = args.value(flag);
  } else if (flag == "--audience") {
    cmd.audience = args.value(flag);
  } else if (flag == "--view-only") {
    cmd.view_only = true;
  } else if (flag == "--record") {
    cmd.record = true;
  } else if (flag == "--one-time") {
    cmd.one_time = true;
  } else {
    return false;
  }
  return true;
}

// --device and --force are for serial consoles only.
void check_serial_flags(const TokenCommand& cmd) {
  if (cmd.console == "serial") return;
  if (cmd.device) bad("--device", "needs --console serial");
  if (cmd.force) bad("--force", "needs --console serial");
}

Command parse_token(const std::vector<std::string>& argv) {
  TokenCommand cmd;
  Args args(argv, 2);
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (flag == "--help" || flag == "-h") return HelpCommand{token_usage};
    if (!token_flag(flag, args, cmd)) bad(flag, "unknown option (see console-gw token --help)");
  }
  if (cmd.host_id.empty()) bad("--host", "is required");
  if (cmd.uuid.empty()) bad("--uuid", "is required");
  if (cmd.signing_key.empty()) bad("--signing-key", "is required");
  check_serial_flags(cmd);
  return cmd;
}

Command parse_url(const std::vector<std::string>& argv) {
  UrlCommand cmd;
  for (std::size_t i = 2; i < argv.size(); ++i) {
    if (argv[i] == "--help" || argv[i] == "-h") return HelpCommand{url_usage};
  }
  std::optional<std::string> public_host, base_path;
  Args args(argv, 2);
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (token_flag(flag, args, cmd.token)) continue;
    if (flag == "--config") {
      cmd.config = load_config_file(args.value(flag));
    } else if (flag == "--public-host") {
      public_host = args.value(flag);
    } else if (flag == "--base-path") {
      const std::string text = args.value(flag);
      base_path = normalize_base_path(text);
      if (!base_path) bad(flag, "must be a path such as /console-gw, got '" + text + "'");
    } else {
      bad(flag, "unknown option (see console-gw url --help)");
    }
  }
  if (public_host) cmd.config.public_host = *public_host;
  if (base_path) cmd.config.base_path = *base_path;
  if (cmd.token.host_id.empty()) bad("--host", "is required");
  if (cmd.token.uuid.empty()) bad("--uuid", "is required");
  check_serial_flags(cmd.token);
  if (cmd.config.public_host.empty()) {
    bad("--public-host", "is required (or gateway.public_host in the config file)");
  }
  if (cmd.token.signing_key.empty()) {
    cmd.token.signing_key = !cmd.config.signing_key_file.empty() ? cmd.config.signing_key_file
                                                                 : cmd.config.token_key_file;
  }
  return cmd;
}

Command parse_replay(const std::vector<std::string>& argv) {
  ReplayCommand cmd;
  Args args(argv, 2);
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (flag == "--help" || flag == "-h") return HelpCommand{replay_usage};
    if (flag == "--speed") {
      const std::string text = args.value(flag);
      double speed = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), speed);
      if (ec != std::errc() || ptr != text.data() + text.size() || !(speed > 0) || speed > 1000) {
        bad(flag, "must be a number above 0 and at most 1000, got '" + text + "'");
      }
      cmd.speed = speed;
    } else if (flag == "--listen") {
      cmd.listen = args.value(flag);
    } else if (flag == "--ws-port") {
      cmd.port = port_value(flag, args.value(flag));
    } else if (flag == "--novnc-dir") {
      cmd.novnc_dir = args.value(flag);
    } else if (flag.starts_with("-")) {
      bad(flag, "unknown option (see console-gw replay --help)");
    } else if (cmd.file.empty()) {
      cmd.file = flag;
    } else {
      bad(flag, "only one recording at a time");
    }
  }
  if (cmd.file.empty()) bad("replay", "needs the recording's file (console-gw replay FILE)");
  return cmd;
}

}  // namespace

std::string console_url(const Config& config, const std::string& token) {
  const std::string scheme = !config.public_scheme.empty()
                                 ? config.public_scheme
                                 : (config.cert.empty() ? "http" : "https");
  return scheme + "://" + config.public_host + config.base_path + "/console?token=" + token;
}

Command parse_command_line(const std::vector<std::string>& argv) {
  if (argv.size() > 1 && argv[1] == "token") return parse_token(argv);
  if (argv.size() > 1 && argv[1] == "url") return parse_url(argv);
  if (argv.size() > 1 && argv[1] == "replay") return parse_replay(argv);

  // The file first, so that flags override it wherever they stand.
  Config config;
  {
    Args args(argv, 1);
    while (!args.done()) {
      const std::string flag = args.next_flag();
      if (flag == "--help" || flag == "-h") return HelpCommand{serve_usage};
      if (flag == "--version") return VersionCommand{};
      if (flag == "--config")
        config = load_config_file(args.value(flag));
      else if (flag == "--ssl-only")
        continue;
      else if (flag.starts_with("--") && !args.done())
        args.value(flag);
    }
  }

  Args args(argv, 1);
  while (!args.done()) {
    const std::string flag = args.next_flag();
    if (flag == "--config") {
      args.value(flag);
    } else if (flag == "--listen") {
      config.listen = args.value(flag);
    } else if (flag == "--ws-port") {
      config.port = port_value(flag, args.value(flag));
    } else if (flag == "--public-host") {
      config.public_host = args.value(flag);
    } else if (flag == "--cert") {
      config.cert = args.value(flag);
    } else if (flag == "--key") {
      config.key = args.value(flag);
    } else if (flag == "--web") {
      config.web = args.value(flag);
    } else if (flag == "--base-path") {
      const std::string text = args.value(flag);
      auto base = normalize_base_path(text);
      if (!base) bad(flag, "must be a path such as /console-gw, got '" + text + "'");
      config.base_path = *base;
    } else if (flag == "--ssl-only") {
      config.ssl_only = true;
    } else if (flag == "--log-level") {
      config.log_level = args.value(flag);
      log::Level level{};
      if (!log::parse_level(config.log_level, level)) {
        bad(flag, "must be debug, info, warn or error, got '" + config.log_level + "'");
      }
    } else if (flag == "--log-format") {
      config.log_format = args.value(flag);
      log::Format format{};
      if (!log::parse_format(config.log_format, format)) {
        bad(flag, "must be text or json, got '" + config.log_format + "'");
      }
    } else {
      bad(flag, "unknown option (see console-gw --help)");
    }
  }
  finish_config(config);
  return ServeCommand{std::move(config)};
}

}  // namespace cgw::gateway
