// A temporary directory for a test's files (keys, certificates, configs),
// removed with everything in it when the object goes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace cgw::test {

class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  // Writes `content` to `name` (creating parent directories); returns its path.
  std::string write(std::string_view name, std::string_view content) const;

  // A 32-byte HS256 secret (base64 text).
  std::string hs256_secret(const std::string& name) const;
  // openssl genpkey: "EC" (P-256), "ED25519" or "RSA"; returns the private key path,
  // and writes the public key next to it as <name>.pub.
  std::string private_key(const std::string& name, const std::string& kind) const;
  // A self-signed certificate for localhost/127.0.0.1; returns {cert, key}.
  std::pair<std::string, std::string> tls_certificate(const std::string& name) const;

 private:
  std::filesystem::path dir_;
};

// Runs a shell command; throws with its output when it fails.
void run(const std::string& command);

}  // namespace cgw::test
