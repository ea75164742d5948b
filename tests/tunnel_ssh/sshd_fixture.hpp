// Test support: a real OpenSSH sshd on a loopback port, with keys made by
// ssh-keygen at test time, all in a temporary directory that is removed
// afterwards. Used from the test thread only.
#pragma once

#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cgw::tunnel::test {

// The tests' files live in a ::cgw::test::Scratch (tests/support).
using TempDir = ::cgw::test::Scratch;

struct KeyPair {
  std::string private_key;  // path of the private key file (OpenSSH format)
  std::string public_line;  // "ssh-ed25519 AAAA... comment"
};

// Runs ssh-keygen; `type` is "ed25519" or "rsa".
KeyPair generate_key(const std::string& path, const std::string& type);
// OpenSSH's own fingerprint of a public key file ("SHA256:..."), from ssh-keygen -l.
std::string openssh_fingerprint(const std::string& public_key_path);

// Child processes and free ports: tests/support/process.hpp.
using ::cgw::test::free_port;
using ::cgw::test::spawn;
void write_file(const std::string& path, const std::string& content);
// Runs a command through /bin/sh and returns its standard output.
std::string run_command(const std::string& command);

// SIGTERM, then waits for it.
void stop_process(pid_t pid);

class Sshd {
 public:
  // Writes a config for listen:port (an IPv4 address) into `dir`; does not start.
  Sshd(std::string dir, std::uint16_t port, std::string host_key, std::string authorized_keys,
       std::string listen = "127.0.0.1");
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  // Starts sshd -D -e and waits until it accepts connections.
  void start();
  // SIGKILL to sshd and every process it started (the per-connection ones too).
  void kill_all();
  // SIGSTOP / SIGCONT to the same processes: a hung server whose kernel still
  // acknowledges every byte.
  void pause_all();
  void resume_all();
  std::uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }

 private:
  std::string dir_;
  std::string listen_;
  std::uint16_t port_;
  std::string config_;
  std::string log_;
  void signal_all(int signal_number);

  pid_t pid_ = -1;
};

}  // namespace cgw::tunnel::test
