#include "admin/setup.hpp"

#include "admin/asker.hpp"
#include "admin/pki.hpp"
#include "admin/plan.hpp"
#include "admin/probes.hpp"
#include "gateway/config.hpp"
#include "gateway/host_routes.hpp"
#include "token/token.hpp"
#include "tunnel/host_route.hpp"

#include <openssl/ssl.h>
#include <toml++/toml.h>

#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <ostream>
#include <sstream>

namespace cgw::admin {

// The systemd unit, compiled in from etc/systemd/console-gw.service.
extern const char* const systemd_unit_text;

namespace {

namespace fs = std::filesystem;

// Where setup puts things: what the .deb installs and the unit expects.
constexpr const char* config_path = "/etc/console-gw/console-gw.toml";
constexpr const char* tls_cert_path = "/etc/console-gw/tls.crt";
constexpr const char* tls_key_path = "/etc/console-gw/tls.key";
constexpr const char* tls_csr_path = "/etc/console-gw/tls.csr";
constexpr const char* token_public_path = "/etc/console-gw/token-public.pem";
constexpr const char* token_private_path = "/etc/console-gw/management-ui/token-signing-key.pem";
// The service account's home: libvirt's own ssh transport finds the key and
// known_hosts there too.
constexpr const char* ssh_key_path = "/var/lib/console-gw/.ssh/id_ed25519";
constexpr const char* known_hosts_path = "/var/lib/console-gw/.ssh/known_hosts";
constexpr const char* packaged_unit = "/lib/systemd/system/console-gw.service";
constexpr const char* local_unit = "/etc/systemd/system/console-gw.service";
constexpr const char* wants_link = "/etc/systemd/system/multi-user.target.wants/console-gw.service";

// ---- answers: validation ------------------------------------------------------

std::string validate_fqdn(const std::string& name) {
  if (name.empty() || name.size() > 253) return "give the host's DNS name, such as gw1.example.com";
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-')
      return "a DNS name has only letters, digits, '.' and '-'";
  }
  if (name.front() == '.' || name.front() == '-' || name.back() == '.')
    return "a DNS name can't start with '.' or '-' or end with '.'";
  return {};
}

std::string validate_port(const std::string& text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0 || value > 65535)
    return "a port is a number from 1 to 65535";
  return {};
}

std::string validate_origin(const std::string& text) {
  if (text == "none") return {};
  if (!(text.starts_with("https://") || text.starts_with("http://")) ||
      text.find('/', text.find("//") + 2) != std::string::npos)
    return "an origin is scheme://host[:port] with no path, e.g. https://cloud.example.com "
           "(or none)";
  return {};
}

std::string validate_tls(const std::string& a) {
  if (a == "self-signed" || a == "csr" || a == "import" || a == "none" || a == "keep") return {};
  return "answer self-signed, csr, import, none or keep";
}

std::string validate_token(const std::string& a) {
  if (a == "generate" || a == "import" || a == "keep") return {};
  return "answer generate, import or keep";
}

std::string validate_readable(const std::string& path) {
  if (path.empty() || ::access(path.c_str(), R_OK) != 0)
    return "no readable file at '" + path + "'";
  return {};
}

std::string validate_host_id(const std::string& id) {
  if (id.empty() || gateway::valid_host_id(id)) return {};
  return "a host ID has only letters, digits and '_'";
}

std::string validate_uri(const std::string& uri) {
  if (tunnel::parse_libvirt_uri(uri)) return {};
  return "a libvirt URI looks like qemu:///system or qemu+ssh://root@kvm01.example.com/system";
}

// ---- small helpers ---------------------------------------------------------------

std::string detect_fqdn() {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  addrinfo* found = nullptr;
  std::string fqdn = name;
  if (::getaddrinfo(name, nullptr, &hints, &found) == 0) {
    if (found && found->ai_canonname) fqdn = found->ai_canonname;
    ::freeaddrinfo(found);
  }
  return fqdn;
}

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// "key = value" as TOML writes the node.
std::string carried_line(const std::string& key, const toml::node& value) {
  toml::table one;
  one.insert(key, value);
  std::ostringstream text;
  // Double-quoted strings, as the rest of the file.
  text << toml::toml_formatter(one, toml::format_flags::none);
  return text.str() + "\n";
}

void carry(const toml::table* from, std::initializer_list<std::string_view> owned,
           std::string& out) {
  if (!from) return;
  for (const auto& [key, value] : *from) {
    bool mine = false;
    for (std::string_view o : owned) mine = mine || key.str() == o;
    if (!mine && !value.is_table()) out += carried_line(std::string(key.str()), value);
  }
}

bool certificate_loads(const std::string& cert, const std::string& key, std::string& why) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                        SSL_CTX_free);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1) {
    why = "no PEM certificate chain in " + cert;
  } else if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
    why = "no PEM private key in " + key;
  } else if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    why = key + " is not the key of " + cert;
  } else {
    return true;
  }
  return false;
}

bool systemd_runs() { return fs::is_directory("/run/systemd/system"); }

struct Host {
  std::string id;
  std::string uri;
  bool ssh = false;          // tunnel consoles through SSH
  bool ssh_implied = false;  // qemu+ssh:// says so already
};

// ---- the session ----------------------------------------------------------------

class Setup {
 public:
  Setup(const SetupOptions& options, Asker& asker, std::ostream& out)
      : options_(options), ask_(asker), out_(out), plan_(options.root) {}
  ~Setup() {
    std::error_code ignored;
    if (!scratch_.empty()) fs::remove_all(scratch_, ignored);
  }
  Setup(const Setup&) = delete;
  Setup& operator=(const Setup&) = delete;

  int run();

 private:
  void read_existing();
  void ask_gateway();
  void ask_tls();
  bool current_certificate_fits(const std::string& mode) const;
  void ask_token();
  void ask_hosts();
  bool ask_host(const std::string& prefix, bool first, Host& host);
  void ensure_ssh_key();
  void ask_ssh(const std::string& prefix, Host& host);
  void ask_service();
  void ask_firewall();
  std::string render_config() const;
  void print_ui_side() const;

  std::string root_path(const std::string& path) const { return plan_.under_root(path); }
  // A message that names the scratch copies of the SSH key and known_hosts,
  // with the paths they will have instead.
  std::string where_it_will_be(std::string text) const {
    if (scratch_.empty()) return text;
    const std::pair<std::string, std::string> swaps[] = {
        {scratch_ + "/id_ed25519", ssh_key_path}, {scratch_ + "/known_hosts", known_hosts_path}};
    for (const auto& [from, to] : swaps) {
      for (auto at = text.find(from); at != std::string::npos; at = text.find(from))
        text.replace(at, from.size(), to);
    }
    return text;
  }

  const SetupOptions& options_;
  Asker& ask_;
  std::ostream& out_;
  Plan plan_;
  toml::table existing_;

  std::string fqdn_;
  std::string port_;
  std::string origin_;
  bool tls_ = false;
  std::string tls_mode_;
  std::string token_mode_;
  std::vector<Host> hosts_;
  std::string ssh_public_;      // the gateway's SSH public key, once made or found
  std::string ssh_key_source_;  // where probes find the private key now
  std::string known_hosts_;     // known_hosts as it will be
  std::string scratch_;         // a temporary folder for keys not yet in place
  std::string firewall_note_;
};

void Setup::read_existing() {
  const std::string path = root_path(config_path);
  if (!fs::exists(path)) return;
  try {
    existing_ = toml::parse_file(path);
    out_ << "Found " << config_path << ": its settings are the defaults below.\n";
  } catch (const toml::parse_error& e) {
    throw SetupError(std::string(config_path) + ": " + std::string(e.description()) +
                     " (fix or remove it, then run setup again)");
  }
}

void Setup::ask_gateway() {
  const auto* gw = existing_["gateway"].as_table();
  const std::string host = gw ? (*gw)["public_host"].value_or(detect_fqdn()) : detect_fqdn();
  fqdn_ = ask_.ask("fqdn", "Host fully qualified DNS name of this server", host, validate_fqdn);
  const std::int64_t port = gw ? (*gw)["port"].value_or(std::int64_t{6080}) : 6080;
  port_ = ask_.ask("port", "Port for browser WebSocket connections", std::to_string(port),
                   validate_port);
  std::string origin = "none";
  if (gw) {
    if (const auto* origins = (*gw)["allowed_origins"].as_array(); origins && !origins->empty())
      origin = origins->get(0)->value_or(std::string("none"));
  }
  origin_ = ask_.ask("ui_origin",
                     "Origin of the management UI, if its own pages open consoles "
                     "(e.g. https://cloud.example.com, or none)",
                     origin, validate_origin);
}

// Whether the certificate in place already is what `mode` would make now: it
// names the host, is valid for more than 30 days, and (for csr) its request is there.
bool Setup::current_certificate_fits(const std::string& mode) const {
  try {
    const CertificateInfo info = read_certificate_file(root_path(tls_cert_path));
    const auto month = std::chrono::hours(24 * 30);
    if (!certificate_covers(info, fqdn_) ||
        info.not_after < std::chrono::system_clock::now() + month)
      return false;
    return mode == "self-signed" ? info.self_signed : fs::exists(root_path(tls_csr_path));
  } catch (const PkiError&) {
    return false;
  }
}

void Setup::ask_tls() {
  const bool have = fs::exists(root_path(tls_cert_path)) && fs::exists(root_path(tls_key_path));
  tls_mode_ = ask_.ask("tls",
                       std::string("TLS certificate: self-signed, csr (a request for your CA), "
                                   "import, none (TLS ends at a proxy in front)") +
                           (have ? ", or keep the current one" : ""),
                       have ? "keep" : "self-signed", validate_tls);
  if (tls_mode_ == "keep" && !have) throw SetupError("tls: there is no certificate to keep");
  tls_ = tls_mode_ != "none";
  CertificateRequest request{fqdn_, {fqdn_}, 825};
  if ((tls_mode_ == "self-signed" || tls_mode_ == "csr") && have &&
      current_certificate_fits(tls_mode_)) {
    out_ << "  Keeping " << tls_cert_path << ": it names " << fqdn_
         << " and is valid for over 30 days.\n";
    tls_mode_ = "keep";
  }
  if (tls_mode_ == "self-signed") {
    const CertificateAndKey made = make_self_signed(request);
    plan_.write({tls_cert_path, made.certificate_pem, 0644});
    plan_.write({tls_key_path, made.key_pem, 0640, FileStep::Owner::root_service_group});
  } else if (tls_mode_ == "csr") {
    // The request for the CA, and meanwhile a self-signed certificate for the
    // same key, so the gateway serves until the CA's certificate replaces it.
    const CertificateAndKey csr = make_csr(request);
    const CertificateAndKey interim = make_self_signed(request, csr.key_pem);
    plan_.write({tls_csr_path, csr.certificate_pem, 0644});
    plan_.write({tls_cert_path, interim.certificate_pem, 0644});
    plan_.write({tls_key_path, csr.key_pem, 0640, FileStep::Owner::root_service_group});
  } else if (tls_mode_ == "import") {
    const std::string cert =
        ask_.ask("tls_cert", "Certificate chain to import (PEM file)", "", validate_readable);
    const std::string key =
        ask_.ask("tls_key", "Its private key (PEM file)", cert, validate_readable);
    std::string why;
    if (!certificate_loads(cert, key, why)) throw SetupError("tls_cert: " + why);
    plan_.write({tls_cert_path, read_file(cert), 0644});
    plan_.write({tls_key_path, read_file(key), 0640, FileStep::Owner::root_service_group});
  }
}

void Setup::ask_token() {
  const bool have = fs::exists(root_path(token_public_path));
  token_mode_ = ask_.ask("token_key",
                         std::string("Token signing: generate a new Ed25519 key pair, or import "
                                     "the management UI's public key") +
                             (have ? ", or keep the current one" : ""),
                         have ? "keep" : "generate", validate_token);
  if (token_mode_ == "keep" && !have) throw SetupError("token_key: there is no token key to keep");
  if (token_mode_ == "generate" && have) {
    // A new pair would lock out the management UI, which holds the old private key.
    out_ << "  Keeping the token key " << token_public_path
         << " (remove it and run setup again for a new pair).\n";
    token_mode_ = "keep";
  }
  if (token_mode_ == "generate") {
    const KeyPair pair = generate_ed25519();
    plan_.write({token_public_path, pair.public_pem, 0644});
    plan_.write({token_private_path, pair.private_pem, 0600});
  } else if (token_mode_ == "import") {
    const std::string path =
        ask_.ask("token_public_key", "Public key to import (PEM: Ed25519, EC P-256 or RSA)", "",
                 validate_readable);
    try {
      token::VerificationKey::load_file(path);
    } catch (const token::KeyError& e) {
      throw SetupError(std::string("token_public_key: ") + e.what());
    }
    plan_.write({token_public_path, read_file(path), 0644});
  }
}

void Setup::ensure_ssh_key() {
  if (!ssh_public_.empty()) return;
  const std::string existing = root_path(ssh_key_path);
  if (fs::exists(existing) && fs::exists(existing + ".pub")) {
    ssh_key_source_ = existing;
    ssh_public_ = read_file(existing + ".pub");
    out_ << "  The gateway's SSH key: " << ssh_key_path << " (kept)\n";
    return;
  }
  char pattern[] = "/tmp/console-gw-setup.XXXXXX";
  if (!::mkdtemp(pattern)) throw SetupError("cannot make a temporary folder");
  scratch_ = pattern;
  ssh_key_source_ = scratch_ + "/id_ed25519";
  std::string output;
  if (run_program({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "console-gw@" + fqdn_, "-f",
                   ssh_key_source_},
                  &output) != 0) {
    throw SetupError(
        "cannot create the gateway's SSH key with ssh-keygen "
        "(apt-get install openssh-client): " +
        output);
  }
  ssh_public_ = read_file(ssh_key_source_ + ".pub");
  plan_.write({ssh_key_path, read_file(ssh_key_source_), 0600, FileStep::Owner::service, true});
  plan_.write(
      {std::string(ssh_key_path) + ".pub", ssh_public_, 0644, FileStep::Owner::service, true});
  out_ << "  Created the gateway's SSH key " << ssh_key_path << "\n";
}

void Setup::ask_ssh(const std::string& prefix, Host& host) {
  ensure_ssh_key();
  gateway::HostConfig config;
  config.id = host.id;
  config.uri = host.uri;
  config.ssh = true;
  config.ssh_key = ssh_key_source_;
  // Probe against the known_hosts as it will be, in the scratch folder.
  if (scratch_.empty()) {
    char pattern[] = "/tmp/console-gw-setup.XXXXXX";
    if (!::mkdtemp(pattern)) throw SetupError("cannot make a temporary folder");
    scratch_ = pattern;
  }
  config.known_hosts = scratch_ + "/known_hosts";
  {
    std::ofstream file(config.known_hosts, std::ios::trunc);
    file << known_hosts_;
  }
  const tunnel::SshSettings settings = *gateway::make_route(config).ssh;
  const std::string where = settings.host + ":" + std::to_string(settings.port);
  SshProbe probe = probe_ssh(settings, false, options_.host_timeout);
  if (probe.stage < SshProbe::Stage::host_key) {
    out_ << "  SSH to " << where << ": " << probe.detail << "\n";
    return;
  }
  if (probe.key_verdict == "changed" || probe.key_verdict == "revoked") {
    out_ << "  SSH host key of " << where << " is " << probe.key_type << " " << probe.fingerprint
         << ", but " << known_hosts_path << " holds another one for it (" << probe.key_verdict
         << "): left as it is; remove the old line if the host was reinstalled.\n";
    return;
  }
  if (!probe.key_trusted) {
    out_ << "  SSH host key of " << where << ": " << probe.key_type << " " << probe.fingerprint
         << "\n  (compare with `ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on that host)\n";
    // An answers file may give the fingerprint it expects instead of true.
    const std::string answer = ask_.ask(
        prefix + "trust_host_key", "  Trust this host key? (yes, no, or its fingerprint)", "no");
    const bool yes =
        answer == "y" || answer == "Y" || answer == "yes" || answer == probe.fingerprint;
    if (answer.starts_with("SHA256:") && answer != probe.fingerprint) {
      throw SetupError(prefix + "trust_host_key: the host presents " + probe.fingerprint +
                       ", not " + answer);
    }
    if (!yes) {
      out_ << "  Not trusted: the gateway will refuse " << where << " until its key is in "
           << known_hosts_path << ".\n";
      return;
    }
    known_hosts_ += known_hosts_line(settings, probe) + "\n";
    std::ofstream(config.known_hosts, std::ios::trunc) << known_hosts_;
    out_ << "  Recorded in " << known_hosts_path << "\n";
  } else {
    out_ << "  SSH host key of " << where << " is already trusted (" << probe.fingerprint << ")\n";
  }
  probe = probe_ssh(settings, true, options_.host_timeout);
  probe.detail = where_it_will_be(probe.detail);
  if (probe.stage == SshProbe::Stage::ok) {
    out_ << "  SSH login to " << where << ": ok\n";
  } else {
    out_ << "  SSH login to " << where << ": not yet (" << probe.detail
         << ").\n  Add the gateway's key to ~" << (settings.user.empty() ? "root" : settings.user)
         << "/.ssh/authorized_keys on " << settings.host << ":\n    " << ssh_public_;
  }
}

bool Setup::ask_host(const std::string& prefix, bool first, Host& host) {
  host.id = ask_.ask(prefix + "id", "Hypervisor host ID (letters, digits and _; empty when done)",
                     first ? "local" : "", validate_host_id);
  if (host.id.empty()) return false;
  for (const Host& other : hosts_) {
    if (other.id == host.id) throw SetupError(prefix + "id: host " + host.id + " twice");
  }
  host.uri =
      ask_.ask(prefix + "uri", "libvirt URI of host " + host.id,
               host.id == "local" ? "qemu:///system" : "qemu+ssh://root@" + host.id + "/system",
               validate_uri);
  const auto uri = tunnel::parse_libvirt_uri(host.uri);
  host.ssh_implied = uri && uri->transport == "ssh";
  if (uri && !tunnel::is_local(*uri)) {
    host.ssh = host.ssh_implied ||
               ask_.confirm(prefix + "ssh",
                            "  Reach host " + host.id +
                                "'s consoles on its loopback or UNIX sockets through SSH?",
                            false);
    if (host.ssh) ask_ssh(prefix, host);
  }
  // Over SSH, libvirt is tested as the service will reach it: with the gateway's
  // key and known_hosts (libvirt's libssh2 transport takes both as parameters;
  // its ssh transport, run by the service, finds them in the service's home).
  const std::string probe_uri =
      ssh_key_source_.empty()
          ? host.uri
          : libvirt_uri_with_ssh_files(host.uri, ssh_key_source_, scratch_ + "/known_hosts");
  out_ << "  Testing libvirt at " << host.uri << " ... " << std::flush;
  const LibvirtProbe probe = probe_libvirt(probe_uri, false, options_.host_timeout);
  out_ << (probe.ok ? "ok, " : "failed: ") << where_it_will_be(probe.detail) << "\n";
  if (!probe.ok &&
      !ask_.confirm(prefix + "keep_unreachable",
                    "  Keep host " + host.id + " although it can't be reached now?", false)) {
    return true;  // asked, not kept
  }
  hosts_.push_back(host);
  return true;
}

void Setup::ask_hosts() {
  known_hosts_ = read_file(root_path(known_hosts_path));
  out_ << "\nHypervisor hosts: the first part of a token's subject names one.\n";
  if (auto count = ask_.host_count()) {
    for (std::size_t i = 0; i < *count; ++i) {
      Host host;
      if (!ask_host("hosts." + std::to_string(i) + ".", i == 0, host))
        throw SetupError("hosts." + std::to_string(i) + ".id: is required");
    }
    return;
  }
  // Interactive: the configured hosts first, then new ones until an empty ID.
  if (const auto* existing = existing_["hosts"].as_table()) {
    for (const auto& [id, table] : *existing) {
      const std::string uri =
          table.as_table() ? (*table.as_table())["uri"].value_or(std::string()) : std::string();
      if (!ask_.confirm("", "Keep host " + std::string(id.str()) + " (" + uri + ")?", true))
        continue;
      Host host{std::string(id.str()), uri};
      const auto parsed = tunnel::parse_libvirt_uri(uri);
      host.ssh_implied = parsed && parsed->transport == "ssh";
      host.ssh =
          host.ssh_implied || (table.as_table() && (*table.as_table())["ssh"].value_or(false));
      hosts_.push_back(host);
    }
  }
  for (std::size_t i = hosts_.size();; ++i) {
    Host host;
    if (!ask_host("hosts." + std::to_string(i) + ".", hosts_.empty(), host)) break;
  }
}

void Setup::ask_service() {
  const bool enable =
      ask_.confirm("systemd", "Install and enable the systemd unit console-gw.service?", true);
  if (!enable) return;
  const bool live = plan_.on_live_system();
  if (live && !::getpwnam(service_account)) {
    plan_.run_first({{"adduser", "--quiet", "--system", "--group", "--home", "/var/lib/console-gw",
                      "--no-create-home", service_account},
                     "the service's account"});
    if (::getgrnam("libvirt")) {
      plan_.run_first(
          {{"adduser", "--quiet", service_account, "libvirt"}, "so it may use qemu:///system"});
    }
  }
  std::string unit = packaged_unit;
  if (!fs::exists(root_path(packaged_unit))) {
    plan_.write({local_unit, systemd_unit_text, 0644});
    unit = local_unit;
  }
  plan_.link({wants_link, unit});
  if (live && systemd_runs()) {
    plan_.run({{"systemctl", "daemon-reload"}, "systemd reads the unit"});
    plan_.run({{"systemctl", "restart", "console-gw.service"}, "start with this configuration"});
  }
}

void Setup::ask_firewall() {
  const std::string rule = "tcp dport " + port_ + " accept";
  const bool live = plan_.on_live_system();
  std::string output;
  if (live && run_program({"firewall-cmd", "--state"}, &output) == 0) {
    if (ask_.confirm("firewall", "Open port " + port_ + "/tcp in firewalld?", true)) {
      plan_.run({{"firewall-cmd", "--permanent", "--add-port=" + port_ + "/tcp"}, "firewalld"});
      plan_.run({{"firewall-cmd", "--reload"}, "firewalld"});
    }
    return;
  }
  if (live && run_program({"nft", "list", "chain", "inet", "filter", "input"}, &output) == 0) {
    if (ask_.confirm("firewall", "Open port " + port_ + "/tcp in nftables (inet filter input)?",
                     true)) {
      plan_.run({{"nft", "add", "rule", "inet", "filter", "input", "tcp", "dport", port_, "accept"},
                 "nftables, until reboot; add the rule to /etc/nftables.conf to keep it"});
    }
    return;
  }
  firewall_note_ =
      "No firewalld or nftables input chain here. If a firewall guards this host, "
      "allow the port:\n    nft add rule inet filter input " +
      rule + "\n    iptables -A INPUT -p tcp --dport " + port_ + " -j ACCEPT\n";
  out_ << firewall_note_;
}

std::string Setup::render_config() const {
  const auto* gw = existing_["gateway"].as_table();
  const auto* tokens = existing_["tokens"].as_table();
  std::string out =
      "# console-gw configuration, written by `console-gw setup`: run it again to change\n"
      "# what it asks. Keys it does not ask about are kept as they are; all keys are\n"
      "# described in /usr/share/doc/console-gw/examples/console-gw.toml.\n\n[gateway]\n";
  out +=
      "listen = " + quote(gw ? (*gw)["listen"].value_or(std::string("0.0.0.0")) : "0.0.0.0") + "\n";
  out += "port = " + port_ + "\npublic_host = " + quote(fqdn_) + "\n";
  if (tls_) {
    out += "cert = " + quote(tls_cert_path) + "\nkey = " + quote(tls_key_path) + "\n";
  }
  if (origin_ != "none") out += "allowed_origins = [" + quote(origin_) + "]\n";
  carry(gw, {"listen", "port", "public_host", "cert", "key", "allowed_origins"}, out);
  out += "\n[tokens]\nmode = \"jwt\"\nkey_file = " + quote(token_public_path) + "\n";
  carry(tokens, {"mode", "key_file"}, out);
  const auto* old_hosts = existing_["hosts"].as_table();
  for (const Host& host : hosts_) {
    out += "\n[hosts." + host.id + "]\nuri = " + quote(host.uri) + "\n";
    if (host.ssh) {
      if (!host.ssh_implied) out += "ssh = true\n";
      out +=
          "ssh_key = " + quote(ssh_key_path) + "\nknown_hosts = " + quote(known_hosts_path) + "\n";
    }
    if (old_hosts) {
      carry((*old_hosts)[host.id].as_table(), {"uri", "ssh", "ssh_key", "known_hosts"}, out);
    }
  }
  return out;
}

void Setup::print_ui_side() const {
  const std::string scheme = tls_ ? "https" : "http";
  const std::string base =
      scheme + "://" + fqdn_ + (port_ == (tls_ ? "443" : "80") ? "" : ":" + port_);
  out_ << "\nOn the management UI, configure:\n"
       << "  console URL      " << base << "/console?token=<token>"
       << (tls_ ? "" : "   (or the https URL of the proxy in front)") << "\n"
       << "  WebSocket URL    " << (tls_ ? "wss" : "ws") << "://" << base.substr(scheme.size() + 3)
       << "/websockify?token=<token>   (for a noVNC of the UI's own)\n";
  if (token_mode_ == "generate") {
    out_ << "  token signing    " << token_private_path
         << "   (Ed25519, JWS alg EdDSA): take it to the\n"
         << "                   management UI and delete it here; the gateway keeps only "
         << token_public_path << "\n";
  } else {
    out_ << "  token signing    the private key whose public half is " << token_public_path << "\n";
  }
  out_ << "  token claims     sub = \"<host-id>-<domain-uuid>\", exp at most 10 minutes ahead "
          "(docs/tokens.md)\n";
  std::string ids;
  for (const Host& h : hosts_) ids += (ids.empty() ? "" : ", ") + h.id;
  out_ << "  host IDs         " << (ids.empty() ? "(none yet: run setup again to add one)" : ids)
       << "\n\nCheck everything with:  console-gw check --config " << config_path << "\n";
  if (token_mode_ == "generate" && !hosts_.empty()) {
    out_ << "Open a console now:     console-gw url --config " << config_path << " --signing-key "
         << token_private_path << " --host " << hosts_.front().id << " --uuid <domain-uuid>\n";
  }
}

int Setup::run() {
  out_ << "console-gw setup: makes this host a console gateway. Enter takes the default in "
          "brackets.\n";
  if (!plan_.on_live_system()) out_ << "Writing under " << options_.root << ".\n";
  out_ << "\n";
  read_existing();
  ask_gateway();
  ask_tls();
  ask_token();
  ask_hosts();
  out_ << "\n";
  ask_service();
  ask_firewall();
  if (!known_hosts_.empty() || fs::exists(root_path(known_hosts_path))) {
    plan_.write({known_hosts_path, known_hosts_, 0644, FileStep::Owner::service});
  }
  const std::string config = render_config();
  plan_.write({config_path, config, 0640, FileStep::Owner::root_service_group});

  out_ << "\nThe configuration (" << config_path << "):\n\n" << config << "\nChanges:\n";
  plan_.describe(out_);
  if (options_.dry_run) {
    out_ << "\nDry run: nothing was changed.\n";
    return 0;
  }
  if (!ask_.confirm("confirm", "\nWrite this configuration and make these changes?", true)) {
    out_ << "Nothing was changed.\n";
    return 0;
  }
  plan_.apply(out_);
  if (plan_.on_live_system() && !systemd_runs()) {
    out_ << "systemd does not run here: start the gateway with\n  console-gw --config "
         << config_path << "\n";
  }
  print_ui_side();
  return 0;
}

}  // namespace

int run_setup(const SetupOptions& options, std::istream& in, std::ostream& out) {
  try {
    auto asker = options.answers_file.empty() ? terminal_asker(in, out)
                                              : answers_asker(options.answers_file, out);
    Setup setup(options, *asker, out);
    return setup.run();
  } catch (const ApplyError& e) {
    out.flush();
    std::cerr << "console-gw setup: " << e.what() << "\n";
    return 1;
  } catch (const SetupError& e) {
    out.flush();
    std::cerr << "console-gw setup: " << e.what() << "\n";
    return 2;
  } catch (const PkiError& e) {
    std::cerr << "console-gw setup: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace cgw::admin
