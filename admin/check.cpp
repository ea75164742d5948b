#include "admin/check.hpp"

#include "admin/pki.hpp"
#include "admin/probes.hpp"
#include "gateway/config.hpp"
#include "gateway/console_security.hpp"
#include "gateway/host_routes.hpp"
#include "gateway/redis_replay_store.hpp"
#include "token/token.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <openssl/ssl.h>

#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <ostream>

namespace cgw::admin {
namespace {

using Status = CheckItem::Status;
namespace fs = std::filesystem;

std::string date_of(std::chrono::system_clock::time_point t) {
  const std::time_t time = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

std::string origin_of(const gateway::Config& config) {
  return config.file.empty() ? "command line" : config.file;
}

void check_listen(const gateway::Config& c, std::vector<CheckItem>& out) {
  std::string detail = c.listen + ":" + std::to_string(c.port) +
                       (c.cert.empty() ? " (ws)"
                        : c.ssl_only   ? " (wss only)"
                                       : " (ws and wss)");
  if (c.public_host.empty()) {
    out.push_back({Status::warn, "listen",
                   detail + "; gateway.public_host is not set, so only allowed_origins may open "
                            "consoles and `console-gw url` needs --public-host"});
  } else {
    out.push_back({Status::ok, "listen", detail + ", public host " + c.public_host});
  }
}

void check_token_key(const gateway::Config& c, std::vector<CheckItem>& out) {
  if (c.token_mode == gateway::TokenMode::plain) {
    out.push_back({Status::warn, "token key",
                   "tokens.mode = \"plain\": tokens are unsigned and never expire"});
    return;
  }
  try {
    const auto key = token::VerificationKey::load_file(c.token_key_file);
    const auto alg = key.algorithm();
    std::string detail = c.token_key_file + ": " + std::string(token::algorithm_name(alg)) +
                         (alg == token::Algorithm::hs256 ? " shared secret" : " public key");
    struct stat st {};
    if (alg == token::Algorithm::hs256 && ::stat(c.token_key_file.c_str(), &st) == 0 &&
        (st.st_mode & S_IROTH)) {
      out.push_back({Status::warn, "token key",
                     detail + ", readable by every user (chmod o-r): anyone who reads it can "
                              "mint tokens"});
      return;
    }
    out.push_back({Status::ok, "token key", detail});
  } catch (const token::KeyError& e) {
    out.push_back({Status::fail, "token key", std::string("tokens.key_file: ") + e.what()});
  }
}

// The same loading the server does (gateway.cert and gateway.key), then dates and names.
// [tokens] replay_store: Redis answers (connect, AUTH, SELECT and a GET that
// uses nothing up), within replay_store_timeout.
void check_replay_store(const gateway::Config& c, std::vector<CheckItem>& out) {
  if (c.replay_store.empty()) return;
  try {
    gateway::RedisReplayStore store(gateway::redis_store_options(c));
    gateway::ReplayUse use;
    use.jti = "console-gw-check";
    use.expires = std::chrono::system_clock::now() + std::chrono::minutes(1);
    use.uses_up = false;
    boost::asio::io_context io;
    auto answer = boost::asio::co_spawn(io, store.check(use), boost::asio::use_future);
    io.run();
    const gateway::ReplayAnswer a = answer.get();
    const std::string where = gateway::parse_redis_url(c.replay_store)->where();
    if (a.verdict == gateway::ReplayAnswer::Verdict::unavailable) {
      out.push_back(
          {Status::fail, "replay store", a.detail + ": one-time tokens would be refused"});
    } else {
      out.push_back({Status::ok, "replay store", "redis at " + where + " answers"});
    }
  } catch (const gateway::ConfigError& e) {
    out.push_back({Status::fail, "replay store", e.what()});
  }
}

void check_certificate(const gateway::Config& c, const CheckOptions& options,
                       std::vector<CheckItem>& out) {
  if (c.cert.empty()) {
    out.push_back({c.ssl_only ? Status::fail : Status::ok, "certificate",
                   c.ssl_only ? "gateway.ssl_only is set but gateway.cert is not"
                              : "none: plain ws:// here, TLS is the proxy's in front"});
    return;
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  const std::string& key = c.key.empty() ? c.cert : c.key;
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), c.cert.c_str()) != 1) {
    out.push_back({Status::fail, "certificate",
                   "gateway.cert: cannot load a certificate chain from " + c.cert});
    return;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    out.push_back(
        {Status::fail, "certificate", "gateway.key: cannot load a private key from " + key});
    return;
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    out.push_back({Status::fail, "certificate", "gateway.key does not match gateway.cert"});
    return;
  }
  CertificateInfo info;
  try {
    info = read_certificate_file(c.cert);
  } catch (const PkiError& e) {
    out.push_back({Status::fail, "certificate", std::string("gateway.cert: ") + e.what()});
    return;
  }
  const auto now = std::chrono::system_clock::now();
  const std::string what = c.cert + " (" + info.subject + ")";
  if (info.not_after <= now) {
    out.push_back({Status::fail, "certificate", what + " expired on " + date_of(info.not_after)});
    return;
  }
  if (info.not_before > now) {
    out.push_back(
        {Status::fail, "certificate", what + " is not valid before " + date_of(info.not_before)});
    return;
  }
  const auto left = std::chrono::duration_cast<std::chrono::hours>(info.not_after - now);
  const long days = static_cast<long>(left.count() / 24);
  if (left < options.expiry_warning) {
    out.push_back(
        {Status::warn, "certificate",
         what + " expires in " + std::to_string(days) + " days (" + date_of(info.not_after) + ")"});
    return;
  }
  if (!c.public_host.empty() && !certificate_covers(info, c.public_host)) {
    out.push_back(
        {Status::warn, "certificate",
         what + " does not name the public host " + c.public_host + ": browsers will refuse it"});
    return;
  }
  out.push_back({Status::ok, "certificate",
                 what + " valid until " + date_of(info.not_after) +
                     (info.self_signed ? ", self-signed" : "")});
}

void check_clients(const gateway::Config& c, std::vector<CheckItem>& out) {
  const bool novnc = fs::exists(fs::path(c.novnc_dir) / "core" / "rfb.js");
  out.push_back({novnc ? Status::ok : Status::warn, "noVNC",
                 novnc ? c.novnc_dir
                       : c.novnc_dir + " has no noVNC (apt-get install novnc): VNC consoles "
                                       "need a client of the UI's own"});
  const bool spice = fs::exists(fs::path(c.spice_dir) / "spice.html");
  out.push_back(
      {spice ? Status::ok : Status::warn, "spice-html5",
       spice ? c.spice_dir : c.spice_dir + " has no spice-html5 (apt-get install spice-html5)"});
  if (!c.web.empty() && !fs::is_directory(c.web)) {
    out.push_back({Status::fail, "web", "gateway.web: " + c.web + " is not a directory"});
  }
}

void check_host(const gateway::Config& c, const gateway::HostConfig& host,
                const CheckOptions& options, std::vector<CheckItem>& out) {
  const std::string name = "host " + host.id;
  bool read_write = false;
  try {
    const gateway::HostSecurity security = gateway::load_host_security(host, origin_of(c));
    read_write = security.password_from_libvirt || security.spice_password_from_libvirt;
  } catch (const gateway::ConfigError& e) {
    out.push_back({Status::fail, name, e.what()});
  }
  if (!options.probe_hosts) return;
  // Over SSH, with the host's ssh_key and known_hosts (as setup lays them out in
  // the service's home, where libvirt's ssh finds them), not the caller's ~/.ssh.
  const tunnel::HostRoute route = gateway::make_route(host);
  const std::string uri = route.ssh ? libvirt_uri_with_ssh_files(host.uri, route.ssh->key_file,
                                                                 effective_known_hosts(*route.ssh))
                                    : host.uri;
  const LibvirtProbe libvirt = probe_libvirt(uri, read_write, options.host_timeout);
  out.push_back({libvirt.ok ? Status::ok : Status::fail, name + " libvirt",
                 host.uri + (uri != host.uri ? " (with ssh_key and known_hosts)" : "") + ": " +
                     libvirt.detail});
  if (!route.ssh) return;
  const SshProbe ssh = probe_ssh(*route.ssh, true, options.host_timeout);
  out.push_back({ssh.stage == SshProbe::Stage::ok ? Status::ok : Status::fail, name + " ssh",
                 route.ssh->host + ":" + std::to_string(route.ssh->port) + ": " + ssh.detail});
}

}  // namespace

std::vector<CheckItem> check_config(const gateway::Config& config, const CheckOptions& options) {
  std::vector<CheckItem> items;
  check_listen(config, items);
  check_token_key(config, items);
  check_replay_store(config, items);
  check_certificate(config, options, items);
  check_clients(config, items);
  for (const gateway::HostConfig& host : config.hosts) check_host(config, host, options, items);
  return items;
}

std::string format_item(const CheckItem& item) {
  const char* status = item.status == Status::ok     ? "ok  "
                       : item.status == Status::warn ? "warn"
                                                     : "FAIL";
  std::string name = item.item;
  if (name.size() < 20) name.resize(20, ' ');
  return std::string(status) + "  " + name + "  " + item.detail;
}

int run_check(const CheckOptions& options, std::ostream& out) {
  std::vector<CheckItem> items;
  try {
    gateway::Config config = gateway::load_config_file(options.config_file);
    gateway::finish_config(config);
    items.push_back({Status::ok, "config", options.config_file});
    auto rest = check_config(config, options);
    items.insert(items.end(), rest.begin(), rest.end());
  } catch (const gateway::ConfigError& e) {
    items.push_back({Status::fail, "config", e.what()});
  }
  int counts[3] = {0, 0, 0};
  for (const CheckItem& item : items) {
    out << format_item(item) << "\n";
    ++counts[static_cast<int>(item.status)];
  }
  out << "console-gw check: " << counts[0] << " ok, " << counts[1]
      << (counts[1] == 1 ? " warning, " : " warnings, ") << counts[2] << " failed\n";
  out.flush();
  return counts[2] == 0 ? 0 : 1;
}

}  // namespace cgw::admin
