#include "tunnel/ssh_host_keys.hpp"

#include "tunnel/libssh2_handles.hpp"

#include <fstream>
#include <string_view>

namespace cgw::tunnel {
namespace {

constexpr std::string_view revoked_marker = "@revoked";

struct KeyKind {
  int knownhost_type;
  const char* name;
};

KeyKind key_kind(int hostkey_type) {
  switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
      return {LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa"};
    case LIBSSH2_HOSTKEY_TYPE_DSS:
      return {LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"};
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
      return {LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"};
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
      return {LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"};
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
      return {LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"};
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
      return {LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"};
    default:
      return {LIBSSH2_KNOWNHOST_KEY_UNKNOWN, "unknown"};
  }
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

// Adds one known_hosts line to `hosts`. libssh2 1.10 stops reading a whole file
// at the first line it cannot parse (a key type it does not know, a marker), so
// lines are fed one at a time and the unparsable ones are skipped.
void add_line(LIBSSH2_KNOWNHOSTS* hosts, std::string_view line) {
  libssh2_knownhost_readline(hosts, line.data(), line.size(), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
}

}  // namespace

std::string base64_unpadded(const unsigned char* data, std::size_t size) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (size - i == 1) {
    const unsigned v = data[i] << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    const unsigned v = (data[i] << 16) | (data[i + 1] << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

HostKeyCheck check_host_key(LIBSSH2_SESSION* session, const std::string& known_hosts_path,
                            const std::string& host, std::uint16_t port) {
  using Verdict = HostKeyCheck::Verdict;
  HostKeyCheck result;

  std::size_t key_length = 0;
  int hostkey_type = LIBSSH2_HOSTKEY_TYPE_UNKNOWN;
  const char* key = libssh2_session_hostkey(session, &key_length, &hostkey_type);
  if (!key || key_length == 0) {
    result.detail = "the server presented no host key";
    return result;
  }
  const KeyKind kind = key_kind(hostkey_type);
  result.key_type = kind.name;
  if (const char* hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256)) {
    result.fingerprint =
        "SHA256:" + base64_unpadded(reinterpret_cast<const unsigned char*>(hash), 32);
  }
  if (kind.knownhost_type == LIBSSH2_KNOWNHOST_KEY_UNKNOWN) {
    result.detail = "host key of an unsupported type";
    return result;
  }

  std::ifstream file(known_hosts_path);
  if (known_hosts_path.empty() || !file) {
    result.verdict = Verdict::no_known_hosts;
    result.detail =
        "known_hosts file " +
        (known_hosts_path.empty() ? "not configured" : known_hosts_path + " not readable");
    return result;
  }
  KnownHostsHandle known(libssh2_knownhost_init(session));
  KnownHostsHandle revoked(libssh2_knownhost_init(session));
  if (!known || !revoked) {
    result.detail = "out of memory";
    return result;
  }
  std::string raw_line;
  while (std::getline(file, raw_line)) {
    std::string_view line = trim(raw_line);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '@') {
      if (line.substr(0, revoked_marker.size()) == revoked_marker) {
        add_line(revoked.get(), trim(line.substr(revoked_marker.size())));
      }
      continue;
    }
    add_line(known.get(), line);
  }
  if (file.bad()) {
    result.verdict = Verdict::no_known_hosts;
    result.detail = "known_hosts file " + known_hosts_path + " not readable";
    return result;
  }

  const int typemask =
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kind.knownhost_type;
  if (libssh2_knownhost_checkp(revoked.get(), host.c_str(), port, key, key_length, typemask,
                               nullptr) == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
    result.verdict = Verdict::revoked;
    result.detail = "host key is marked @revoked in " + known_hosts_path;
    return result;
  }
  switch (libssh2_knownhost_checkp(known.get(), host.c_str(), port, key, key_length, typemask,
                                   nullptr)) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      result.verdict = Verdict::trusted;
      break;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
      result.verdict = Verdict::changed;
      result.detail = "host key differs from the one in " + known_hosts_path;
      break;
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
      result.verdict = Verdict::unknown;
      result.detail = "host not in " + known_hosts_path;
      break;
    default:
      result.verdict = Verdict::no_host_key;
      result.detail = "known_hosts check failed";
      break;
  }
  return result;
}

}  // namespace cgw::tunnel
