#include "gateway/config.hpp"

#include "common/log.hpp"
#include "gateway/redis_replay_store.hpp"
#include "gateway/request_rules.hpp"
#include "gateway/trusted_proxies.hpp"
#include "tunnel/host_route.hpp"

#include <toml++/toml.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <type_traits>

namespace cgw::gateway {
namespace {

std::string one_line(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// Builds the one-line messages: "FILE: section.key: problem".
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(file_ + ": " + key + ": " + problem);
  }

  void only_keys(const toml::table& table, const std::string& section,
                 const std::set<std::string_view>& known) const {
    for (const auto& [key, value] : table) {
      if (!known.contains(key.str())) fail(section + "." + std::string(key.str()), "unknown key");
    }
  }

  std::optional<std::string> string(const toml::table& table, const std::string& section,
                                    std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) fail(section + "." + std::string(key), "must be a string");
    return node->as_string()->get();
  }

  std::optional<bool> boolean(const toml::table& table, const std::string& section,
                              std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    if (!node->is_boolean()) fail(section + "." + std::string(key), "must be true or false");
    return node->as_boolean()->get();
  }

  std::optional<std::int64_t> integer(const toml::table& table, const std::string& section,
                                      std::string_view key, std::int64_t min,
                                      std::int64_t max) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    const std::string name = section + "." + std::string(key);
    if (!node->is_integer()) fail(name, "must be an integer");
    const std::int64_t value = node->as_integer()->get();
    if (value < min || value > max) {
      fail(name, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + std::to_string(value));
    }
    return value;
  }

  std::optional<std::chrono::milliseconds> duration(const toml::table& table,
                                                    const std::string& section,
                                                    std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    const std::string name = section + "." + std::string(key);
    std::optional<std::chrono::milliseconds> value;
    if (node->is_integer() && node->as_integer()->get() >= 0) {
      // A bare number is seconds, with the same range check as "30s".
      value = parse_duration(std::to_string(node->as_integer()->get()));
    } else if (node->is_string()) {
      value = parse_duration(node->as_string()->get());
    }
    if (!value) fail(name, "must be a duration such as \"30s\", \"10m\" or \"1h\"");
    return value;
  }

  std::optional<std::vector<std::string>> strings(const toml::table& table,
                                                  const std::string& section,
                                                  std::string_view key) const {
    const toml::node* node = table.get(key);
    if (!node) return std::nullopt;
    const std::string name = section + "." + std::string(key);
    if (!node->is_array()) fail(name, "must be an array of strings");
    std::vector<std::string> out;
    for (const toml::node& item : *node->as_array()) {
      if (!item.is_string()) fail(name, "must be an array of strings");
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  const toml::table* table(const toml::table& parent, std::string_view key) const {
    const toml::node* node = parent.get(key);
    if (!node) return nullptr;
    if (!node->is_table()) fail(std::string(key), "must be a table ([" + std::string(key) + "])");
    return node->as_table();
  }

 private:
  std::string file_;
};

void read_gateway(const Reader& r, const toml::table& t, Config& c) {
  const std::string s = "gateway";
  // clang-format off
  r.only_keys(t, s, {"listen",        "port",          "public_host",       "cert",
                     "key",           "web",           "allowed_origins",   "ssl_only",
                     "threads",       "ping_interval", "libvirt_timeout",   "connect_timeout",
                     "log_level",     "base_path",     "trusted_proxies",   "forwarded_headers",
                     "novnc_dir",     "spice_dir",     "public_scheme",     "log_format",
                     "metrics_allow", "drain_timeout", "static_link_roots", "write_timeout",
                     "libvirt_threads", "xterm_dir"});
  // clang-format on
  if (auto v = r.string(t, s, "listen")) c.listen = *v;
  if (auto v = r.integer(t, s, "port", 1, 65535)) c.port = static_cast<std::uint16_t>(*v);
  if (auto v = r.string(t, s, "public_host")) c.public_host = *v;
  if (auto v = r.string(t, s, "cert")) c.cert = *v;
  if (auto v = r.string(t, s, "key")) c.key = *v;
  if (auto v = r.string(t, s, "web")) c.web = *v;
  if (auto v = r.strings(t, s, "allowed_origins")) c.allowed_origins = *v;
  if (auto v = r.string(t, s, "base_path")) {
    auto base = normalize_base_path(*v);
    if (!base)
      r.fail("gateway.base_path", "must be a path such as \"/console-gw\", got \"" + *v + "\"");
    c.base_path = *base;
  }
  if (auto v = r.strings(t, s, "trusted_proxies")) {
    for (const std::string& cidr : *v) {
      if (!parse_cidr(cidr)) {
        r.fail("gateway.trusted_proxies", "\"" + cidr + "\" is not an address or CIDR block");
      }
    }
    c.trusted_proxies = *v;
  }
  if (auto v = r.string(t, s, "forwarded_headers")) {
    if (*v == "x-forwarded") {
      c.forwarded_headers = TrustedProxies::Headers::x_forwarded;
    } else if (*v == "forwarded") {
      c.forwarded_headers = TrustedProxies::Headers::forwarded;
    } else {
      r.fail("gateway.forwarded_headers",
             "must be \"x-forwarded\" or \"forwarded\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.string(t, s, "novnc_dir")) c.novnc_dir = *v;
  if (auto v = r.string(t, s, "spice_dir")) c.spice_dir = *v;
  if (auto v = r.string(t, s, "xterm_dir")) c.xterm_dir = *v;
  if (auto v = r.strings(t, s, "static_link_roots")) {
    for (const std::string& dir : *v) {
      if (!dir.starts_with('/')) {
        r.fail("gateway.static_link_roots", "\"" + dir + "\" is not an absolute path");
      }
    }
    c.static_link_roots = *v;
  }
  if (auto v = r.string(t, s, "public_scheme")) {
    if (*v != "http" && *v != "https")
      r.fail("gateway.public_scheme", "must be \"http\" or \"https\"");
    c.public_scheme = *v;
  }
  if (auto v = r.boolean(t, s, "ssl_only")) c.ssl_only = *v;
  if (auto v = r.integer(t, s, "threads", 0, 256)) c.threads = static_cast<unsigned>(*v);
  if (auto v = r.duration(t, s, "ping_interval")) {
    c.ping_interval = std::chrono::duration_cast<std::chrono::seconds>(*v);
  }
  if (auto v = r.duration(t, s, "libvirt_timeout")) c.libvirt_timeout = *v;
  if (auto v = r.integer(t, s, "libvirt_threads", 1, 64)) {
    c.libvirt_threads = static_cast<unsigned>(*v);
  }
  if (auto v = r.duration(t, s, "write_timeout")) c.write_timeout = *v;
  if (auto v = r.duration(t, s, "connect_timeout")) c.connect_timeout = *v;
  if (auto v = r.duration(t, s, "drain_timeout")) c.drain_timeout = *v;
  if (auto v = r.string(t, s, "log_level")) {
    log::Level level{};
    if (!log::parse_level(*v, level)) {
      r.fail("gateway.log_level", "must be debug, info, warn or error, got \"" + *v + "\"");
    }
    c.log_level = *v;
  }
  if (auto v = r.string(t, s, "log_format")) {
    log::Format format{};
    if (!log::parse_format(*v, format)) {
      r.fail("gateway.log_format", "must be \"text\" or \"json\", got \"" + *v + "\"");
    }
    c.log_format = *v;
  }
  if (auto v = r.strings(t, s, "metrics_allow")) {
    for (const std::string& cidr : *v) {
      if (!parse_cidr(cidr)) {
        r.fail("gateway.metrics_allow", "\"" + cidr + "\" is not an address or CIDR block");
      }
    }
    c.metrics_allow = *v;
  }
  for (const std::string& origin : c.allowed_origins) {
    if (!normalize_origin(origin)) {
      r.fail("gateway.allowed_origins",
             "\"" + origin + "\" is not an origin (scheme://host[:port], no path)");
    }
  }
}

void read_tokens(const Reader& r, const toml::table& t, Config& c) {
  const std::string s = "tokens";
  r.only_keys(t, s,
              {"mode", "key_file", "audience", "max_ttl", "signing_key_file", "replay_store",
               "replay_store_password_file", "replay_store_timeout"});
  if (auto v = r.string(t, s, "signing_key_file")) c.signing_key_file = *v;
  if (auto v = r.string(t, s, "mode")) {
    if (*v == "jwt") {
      c.token_mode = TokenMode::jwt;
    } else if (*v == "plain") {
      c.token_mode = TokenMode::plain;
    } else {
      r.fail("tokens.mode", "must be \"jwt\" or \"plain\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.string(t, s, "key_file")) c.token_key_file = *v;
  if (auto v = r.string(t, s, "audience")) c.audience = *v;
  if (auto v = r.duration(t, s, "max_ttl")) {
    c.max_ttl = std::chrono::duration_cast<std::chrono::seconds>(*v);
    if (c.max_ttl.count() <= 0) r.fail("tokens.max_ttl", "must be at least 1s");
  }
  if (auto v = r.string(t, s, "replay_store")) {
    // The value is not repeated: it may hold a password.
    if (!v->empty() && !parse_redis_url(*v)) {
      r.fail("tokens.replay_store",
             "must be \"redis://[[user]:password@]host[:port][/db]\" or \"unix:///path[?db=N]\"");
    }
    c.replay_store = *v;
  }
  if (auto v = r.string(t, s, "replay_store_password_file")) c.replay_store_password_file = *v;
  if (auto v = r.duration(t, s, "replay_store_timeout")) {
    c.replay_store_timeout = *v;
    if (v->count() <= 0) r.fail("tokens.replay_store_timeout", "must be more than 0");
  }
}

void read_limits(const Reader& r, const toml::table& t, Config& c) {
  const std::string s = "limits";
  r.only_keys(t, s,
              {"handshake_timeout", "max_header_bytes", "max_message_bytes", "max_sessions",
               "max_sessions_per_client", "max_handshakes", "max_handshakes_per_peer",
               "handshake_rate", "handshake_burst", "idle_timeout", "max_session_length"});
  LimitsConfig& l = c.limits;
  if (auto v = r.duration(t, s, "handshake_timeout")) {
    if (v->count() < 100) r.fail("limits.handshake_timeout", "must be at least 100ms");
    l.handshake_timeout = *v;
  }
  const auto size = [&](std::string_view key, std::int64_t min, std::int64_t max, auto& out) {
    if (auto v = r.integer(t, s, key, min, max))
      out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
  };
  size("max_header_bytes", 1024, 1024 * 1024, l.max_header_bytes);
  size("max_message_bytes", 1024, std::int64_t{1} << 32, l.max_message_bytes);
  size("max_sessions", 1, 10'000'000, l.max_sessions);
  size("max_sessions_per_client", 0, 10'000'000, l.max_sessions_per_client);
  size("max_handshakes", 1, 10'000'000, l.max_handshakes);
  size("max_handshakes_per_peer", 0, 10'000'000, l.max_handshakes_per_peer);
  size("handshake_rate", 0, 1'000'000, l.handshake_rate);
  size("handshake_burst", 1, 1'000'000, l.handshake_burst);
  if (auto v = r.duration(t, s, "idle_timeout")) l.idle_timeout = *v;
  if (auto v = r.duration(t, s, "max_session_length")) l.max_session_length = *v;
}

void read_recording(const Reader& r, const toml::table& t, Config& c) {
  const std::string s = "recording";
  r.only_keys(t, s, {"directory", "max_bytes", "include_input"});
  RecordingConfig& rc = c.recording;
  if (auto v = r.string(t, s, "directory")) {
    if (v->empty() || v->front() != '/') r.fail("recording.directory", "must be an absolute path");
    rc.directory = *v;
  }
  if (auto v = r.integer(t, s, "max_bytes", 4096, std::int64_t{1} << 40)) {
    rc.max_bytes = static_cast<std::uint64_t>(*v);
  }
  if (auto v = r.boolean(t, s, "include_input")) rc.include_input = *v;
}

void read_host(const Reader& r, const std::string& id, const toml::table& t, Config& c) {
  const std::string s = "hosts." + id;
  if (!valid_host_id(id)) r.fail(s, "host IDs may contain only letters, digits and '_'");
  r.only_keys(t, s,
              {"uri", "address", "ssh", "ssh_user", "ssh_port", "ssh_key", "ssh_agent",
               "known_hosts", "console_via", "vnc_security", "vnc_password_from_libvirt",
               "vnc_password_file", "spice_password_from_libvirt", "spice_password_file",
               "console_ca", "console_cert", "console_key", "console_tls_name", "record"});
  HostConfig host;
  host.id = id;
  auto uri = r.string(t, s, "uri");
  if (!uri) r.fail(s + ".uri", "is required (a libvirt URI such as \"qemu:///system\")");
  if (!tunnel::parse_libvirt_uri(*uri))
    r.fail(s + ".uri", "is not a libvirt URI: \"" + *uri + "\"");
  host.uri = *uri;
  if (auto v = r.string(t, s, "address")) host.address = *v;
  if (auto v = r.boolean(t, s, "ssh")) host.ssh = *v;
  if (auto v = r.string(t, s, "ssh_user")) host.ssh_user = *v;
  if (auto v = r.integer(t, s, "ssh_port", 1, 65535))
    host.ssh_port = static_cast<std::uint16_t>(*v);
  if (auto v = r.string(t, s, "ssh_key")) host.ssh_key = *v;
  if (auto v = r.boolean(t, s, "ssh_agent")) host.ssh_agent = *v;
  if (auto v = r.string(t, s, "known_hosts")) host.known_hosts = *v;
  if (auto v = r.string(t, s, "console_via")) {
    if (*v == "ssh") {
      host.console_via_ssh = true;
    } else if (*v != "direct") {
      r.fail(s + ".console_via", "must be \"ssh\" or \"direct\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.string(t, s, "vnc_security")) {
    if (*v == "passthrough") {
      host.vnc_security_gateway = false;
    } else if (*v != "gateway") {
      r.fail(s + ".vnc_security", "must be \"gateway\" or \"passthrough\", got \"" + *v + "\"");
    }
  }
  if (auto v = r.boolean(t, s, "vnc_password_from_libvirt")) host.vnc_password_from_libvirt = *v;
  if (auto v = r.string(t, s, "vnc_password_file")) host.vnc_password_file = *v;
  if (auto v = r.boolean(t, s, "spice_password_from_libvirt")) {
    host.spice_password_from_libvirt = *v;
  }
  if (auto v = r.string(t, s, "spice_password_file")) host.spice_password_file = *v;
  if (auto v = r.string(t, s, "console_ca")) host.console_ca = *v;
  if (auto v = r.string(t, s, "console_cert")) host.console_cert = *v;
  if (auto v = r.string(t, s, "console_key")) host.console_key = *v;
  if (auto v = r.string(t, s, "console_tls_name")) host.console_tls_name = *v;
  if (auto v = r.boolean(t, s, "record")) host.record = *v;
  c.hosts.push_back(std::move(host));
}

}  // namespace

std::optional<std::string> normalize_base_path(std::string_view text) {
  std::string out(text);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (out.empty()) return out;
  if (out.front() != '/') return std::nullopt;
  for (char ch : out) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '/' || ch == '-' || ch == '_' || ch == '.' ||
                    ch == '~';
    if (!ok) return std::nullopt;
  }
  if (out.find("//") != std::string::npos || out.find("/.") != std::string::npos)
    return std::nullopt;
  return out;
}

bool valid_host_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char ch : id) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  constexpr std::uint64_t limit = 366ULL * 24 * 3600 * 1000;  // a year is plenty
  std::uint64_t millis = 0;
  if (unit == "ms") {
    millis = value;
  } else if (unit.empty() || unit == "s") {
    millis = value * 1000;
  } else if (unit == "m") {
    millis = value * 60'000;
  } else if (unit == "h") {
    millis = value * 3'600'000;
  } else {
    return std::nullopt;
  }
  if (value > limit || millis > limit) return std::nullopt;
  return std::chrono::milliseconds(millis);
}

ConfigError::ConfigError(const std::string& message) : std::runtime_error(one_line(message)) {}

Config load_config_text(std::string_view text, const std::string& origin) {
  Config config;
  config.file = origin;
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    const auto& where = err.source().begin;
    if (where.line == 0) throw ConfigError(origin + ": " + std::string(err.description()));
    throw ConfigError(origin + ":" + std::to_string(where.line) + ":" +
                      std::to_string(where.column) + ": " + std::string(err.description()));
  }
  const Reader r(origin);
  for (const auto& [key, value] : root) {
    const std::string_view k = key.str();
    if (k != "gateway" && k != "tokens" && k != "hosts" && k != "limits" && k != "recording")
      r.fail(std::string(k), "unknown section");
  }
  if (const toml::table* t = r.table(root, "gateway")) read_gateway(r, *t, config);
  if (const toml::table* t = r.table(root, "tokens")) read_tokens(r, *t, config);
  if (const toml::table* t = r.table(root, "limits")) read_limits(r, *t, config);
  if (const toml::table* t = r.table(root, "recording")) read_recording(r, *t, config);
  if (const toml::table* hosts = r.table(root, "hosts")) {
    for (const auto& [id, node] : *hosts) {
      if (!node.is_table()) r.fail("hosts." + std::string(id.str()), "must be a table");
      read_host(r, std::string(id.str()), *node.as_table(), config);
    }
  }
  return config;
}

Config load_config_file(const std::string& path) {
  std::error_code fs_error;
  if (std::filesystem::is_directory(path, fs_error)) throw ConfigError(path + ": is a directory");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError(path + ": File could not be opened for reading");
  const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (file.bad()) throw ConfigError(path + ": File could not be read");
  return load_config_text(text, path);
}

void finish_config(Config& config) {
  const std::string origin = config.file.empty() ? "command line" : config.file;
  if (config.hosts.empty()) {
    HostConfig local;
    local.id = "local";
    local.uri = "qemu:///system";
    config.hosts.push_back(local);
  }
  for (HostConfig& host : config.hosts) {
    const auto uri = tunnel::parse_libvirt_uri(host.uri);
    if (uri && uri->transport == "ssh") host.ssh = true;
    if (host.console_via_ssh && !host.ssh) {
      throw ConfigError(origin + ": hosts." + host.id +
                        ".console_via: \"ssh\" needs ssh = true or a qemu+ssh:// URI");
    }
    const std::string key = origin + ": hosts." + host.id + ".";
    if (!host.vnc_security_gateway &&
        (host.vnc_password_from_libvirt || !host.vnc_password_file.empty())) {
      throw ConfigError(
          key +
          (host.vnc_password_from_libvirt ? "vnc_password_from_libvirt" : "vnc_password_file") +
          ": needs vnc_security = \"gateway\" (the gateway answers the password)");
    }
    if (host.vnc_password_from_libvirt && !host.vnc_password_file.empty()) {
      throw ConfigError(key + "vnc_password_file: given with vnc_password_from_libvirt = true");
    }
    if (host.spice_password_from_libvirt && !host.spice_password_file.empty()) {
      throw ConfigError(key + "spice_password_file: given with spice_password_from_libvirt = true");
    }
    if (host.console_ca.empty() && (!host.console_cert.empty() || !host.console_key.empty() ||
                                    !host.console_tls_name.empty())) {
      throw ConfigError(key +
                        (!host.console_cert.empty()  ? "console_cert"
                         : !host.console_key.empty() ? "console_key"
                                                     : "console_tls_name") +
                        ": needs console_ca (the CA that signed the console's certificate)");
    }
    if (host.console_cert.empty() != host.console_key.empty()) {
      throw ConfigError(key + (host.console_cert.empty() ? "console_key" : "console_cert") +
                        ": console_cert and console_key go together");
    }
  }
  if (!config.key.empty() && config.cert.empty()) {
    throw ConfigError(origin + ": gateway.key: given without gateway.cert");
  }
  if (config.ssl_only && config.cert.empty()) {
    throw ConfigError(origin + ": gateway.ssl_only: needs gateway.cert (and gateway.key)");
  }
  if (config.ping_interval.count() < 0) {
    throw ConfigError(origin + ": gateway.ping_interval: must not be negative");
  }
  if (config.write_timeout.count() < 0) {
    throw ConfigError(origin + ": gateway.write_timeout: must not be negative");
  }
}

}  // namespace cgw::gateway
