// Host key verification for the SSH tunnel, strictly against an OpenSSH
// known_hosts file. Internal to cgw::tunnel; pure functions of a handshaken
// libssh2 session and a file, callable from the session's strand.
#pragma once

#include <libssh2.h>

#include <cstdint>
#include <string>

namespace cgw::tunnel {

struct HostKeyCheck {
  enum class Verdict {
    trusted,         // known_hosts holds this key for this host
    unknown,         // known_hosts has no key of this type for this host
    changed,         // known_hosts holds a different key of this type for this host
    revoked,         // the key is listed under @revoked
    no_known_hosts,  // the file is missing or unreadable
    no_host_key,     // the session offered no key we can check
  };
  Verdict verdict = Verdict::no_host_key;
  std::string key_type;     // "ssh-ed25519", ...
  std::string fingerprint;  // OpenSSH's form: "SHA256:" + unpadded base64
  std::string detail;       // for the log
};

// Checks the key the server presented during the handshake of `session` for
// `host` on `port` (non-22 ports are written "[host]:port" in known_hosts).
// Markers: "@revoked" keys are refused; "@cert-authority" lines are ignored, as
// certificates are not supported. Lines libssh2 cannot parse are skipped.
HostKeyCheck check_host_key(LIBSSH2_SESSION* session, const std::string& known_hosts_path,
                            const std::string& host, std::uint16_t port);

// Standard base64 without the trailing '=' padding, as OpenSSH prints fingerprints.
std::string base64_unpadded(const unsigned char* data, std::size_t size);

}  // namespace cgw::tunnel
