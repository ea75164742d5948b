// The gateway's configuration: the TOML file, then command-line flags over it.
// Any problem is a ConfigError whose message is one line naming the file (or
// flag), the key and the problem; main() prints it and exits with status 2.
#pragma once

#include "gateway/trusted_proxies.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::gateway {

class ConfigError : public std::runtime_error {
 public:
  // Control characters in `message` (from a key, a value or the TOML parser's
  // description of the text) are escaped ("\n", "\x01"): one line, always.
  explicit ConfigError(const std::string& message);
};

struct HostConfig {
  std::string id;       // [A-Za-z0-9_]+
  std::string uri;      // libvirt URI
  std::string address;  // where consoles listening on 0.0.0.0 / :: are reached
  // SSH tunnel (consoles on the host's loopback or UNIX sockets)
  bool ssh = false;  // implied by a qemu+ssh:// URI
  std::string ssh_user;
  std::uint16_t ssh_port = 0;
  std::string ssh_key;
  bool ssh_agent = false;
  std::string known_hosts;
  bool console_via_ssh = false;  // console_via = "ssh"
  // The console's own security, done by the gateway (rfb/, console_tls/).
  bool vnc_security_gateway = true;          // vnc_security = "gateway" (default) | "passthrough"
  bool vnc_password_from_libvirt = false;    // read <graphics passwd> (read-write connection)
  std::string vnc_password_file;             // a password for every VNC console of the host
  bool spice_password_from_libvirt = false;  // SPICE tickets: the same, for SPICE consoles
  std::string spice_password_file;
  std::string console_ca;  // TLS to consoles (VeNCrypt, SPICE tlsPort)
  std::string console_cert;
  std::string console_key;
  std::string console_tls_name;  // the name the console's certificate must carry
  bool record = false;           // record every console session of the host ([recording])

  bool operator==(const HostConfig&) const = default;  // a reload tells whether hosts changed
};

enum class TokenMode { jwt, plain };

// [limits]: how much the gateway takes on, and for how long (docs/deployment.md).
struct LimitsConfig {
  // From accept to the upgrade: TLS detection, the TLS handshake and each HTTP
  // request (each one within this of the previous answer).
  std::chrono::milliseconds handshake_timeout{10'000};
  std::size_t max_header_bytes = 16 * 1024;  // larger: 431
  // A WebSocket data message from the browser larger than this: close 1009.
  std::uint64_t max_message_bytes = 4 * 1024 * 1024;
  std::size_t max_sessions = 8'000;           // open consoles; beyond: 503
  std::size_t max_sessions_per_client = 100;  // per client address; beyond: 429; 0: no limit
  std::size_t max_handshakes = 2'000;         // connections before their upgrade
  std::size_t max_handshakes_per_peer = 50;   // per TCP peer (not trusted proxies); 0: no limit
  unsigned handshake_rate = 20;               // console requests per second per client; 0: off
  unsigned handshake_burst = 40;
  std::chrono::milliseconds idle_timeout{0};        // no bytes either way; 0: off
  std::chrono::milliseconds max_session_length{0};  // 0: off

  bool operator==(const LimitsConfig&) const = default;
};

// [recording]: where and how console sessions are recorded (docs/recording.md),
// for hosts with record = true and tokens with the record claim. Read at start;
// a reload keeps it.
struct RecordingConfig {
  std::string directory = "/var/lib/console-gw/recordings";  // created 0700
  std::uint64_t max_bytes = 256 * 1024 * 1024;  // per session's file; then recording stops
  bool include_input = false;                   // the browser's keys and pointer too

  bool operator==(const RecordingConfig&) const = default;
};

struct Config {
  std::string file;  // the config file read, empty when none

  // [gateway]
  std::string listen = "0.0.0.0";
  std::uint16_t port = 6080;
  std::string public_host;
  std::string cert;
  std::string key;
  std::string web;
  std::string base_path;  // "" or "/prefix" (no trailing slash): serve everything under it
  std::string novnc_dir = "/usr/share/novnc";        // served at <base>/novnc/
  std::string spice_dir = "/usr/share/spice-html5";  // served at <base>/spice/
  // xterm.js and its fit addon (npm's @xterm/*, put there by scripts/install-deps),
  // served at <base>/xterm/ for serial consoles.
  std::string xterm_dir = "/usr/share/console-gw/xterm";
  // Where a symbolic link below a static root may lead besides that root itself
  // (Debian's web packages link into /usr/share/javascript); anything else is 404.
  std::vector<std::string> static_link_roots{"/usr/share/javascript"};
  std::string public_scheme;  // "http" | "https" for `console-gw url`; default from cert
  std::vector<std::string> allowed_origins;
  std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-* / Forwarded count
  // Which of them the trusted proxies write: "x-forwarded" (default) or "forwarded".
  TrustedProxies::Headers forwarded_headers = TrustedProxies::Headers::x_forwarded;
  bool ssl_only = false;
  unsigned threads = 0;  // 0: one per core
  std::chrono::seconds ping_interval{30};
  // A write to the browser or the console that makes no progress for this long
  // ends the session (stream::PumpOptions::write_timeout); zero: never.
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds libvirt_timeout{10'000};
  // Each host's libvirt calls run on this many threads of its own, so that one
  // descheduled or slow call does not hold up the other sessions' lookups.
  unsigned libvirt_threads = 4;
  std::chrono::milliseconds connect_timeout{5'000};
  // SIGTERM: stop accepting, let open consoles run this long, then close them
  // with 1001 (a second SIGTERM closes them at once).
  std::chrono::milliseconds drain_timeout{10'000};
  std::string log_level = "info";
  std::string log_format = "text";  // "text" | "json"
  // Who may read GET <base>/metrics: CIDRs matched against the TCP peer (never
  // a forwarded address). Empty: no /metrics at all.
  std::vector<std::string> metrics_allow{"127.0.0.0/8", "::1/128"};

  LimitsConfig limits;
  RecordingConfig recording;

  // [tokens]
  TokenMode token_mode = TokenMode::jwt;
  std::string token_key_file = "/etc/console-gw/token.key";
  std::optional<std::string> audience;
  std::chrono::seconds max_ttl{600};
  std::string
      signing_key_file;  // for `console-gw url`; default: key_file when it is an HS256 secret
  // Where one-time tokens' IDs are kept: empty, in this process; or a Redis that
  // several gateways share, "redis://[[user]:password@]host[:port][/db]" or
  // "unix:///path[?db=N]" (checked when read). May hold a password: never logged.
  std::string replay_store;
  std::string replay_store_password_file;  // the password, when not in the URL
  std::chrono::milliseconds replay_store_timeout{1000};

  // [hosts.<id>]; with none configured, the local hypervisor as "local".
  std::vector<HostConfig> hosts;
};

// Reads a TOML file into a Config (defaults where keys are absent).
Config load_config_file(const std::string& path);

// The same for TOML text already in memory; `origin` stands for the file in
// Config::file and in every message.
Config load_config_text(std::string_view text, const std::string& origin);

// Parses "500ms", "30s", "10m", "1h" or a bare number of seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

bool valid_host_id(std::string_view id);

// "/console-gw/" → "/console-gw", "/" → ""; nullopt when not a path prefix.
std::optional<std::string> normalize_base_path(std::string_view text);

// Fills defaults that depend on other settings (the local host; ssh for qemu+ssh
// URIs) and checks what can only be checked as a whole. `origin` names the file
// or "command line" for messages.
void finish_config(Config& config);

}  // namespace cgw::gateway
