#include "tests/faults/gateway_process.hpp"

#include "tests/support/metrics.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tokens.hpp"
#include "tests/support/ws_client.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cgw::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The value after `key` on its line of /proc/<pid>/status.
long status_field(const std::string& status, const std::string& key) {
  const auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return -1;
  return std::stol(status.substr(at + key.size() + 2));
}

}  // namespace

std::optional<ProcessSample> sample_process(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  const std::string status = "\n" + read_text(proc + "/status");
  if (status.size() < 2) return std::nullopt;
  ProcessSample s;
  s.threads = status_field(status, "Threads");
  s.rss_kib = status_field(status, "VmRSS");
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(proc + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++s.fds;
  }
  if (ec) return std::nullopt;
  return s;
}

GatewayProcess::GatewayProcess(const Scratch& scratch, const std::string& gateway,
                               const std::string& hosts, const std::string& listen, Network network)
    : network_(network) {
  key_file_ = scratch.hs256_secret("gateway-token.key");
  port_ = free_port();
  const std::string config = scratch.write(
      "console-gw.toml", "[gateway]\nlisten = \"" + listen + "\"\nport = " + std::to_string(port_) +
                             "\nthreads = 2\n" + gateway + "\n\n[tokens]\nkey_file = \"" +
                             key_file_ + "\"\n\n" + hosts);
  log_ = scratch.path("console-gw.log");
  if (network == Network::alone) {
    const std::string resolv = scratch.write("resolv.conf", "nameserver 127.0.0.1\n");
    // unshare's mount namespace is private: the bind mount stays in it.
    pid_ = spawn({"/usr/bin/unshare", "--net", "--mount", "--", "/bin/sh", "-c",
                  "mount --bind '" + resolv + "' /etc/resolv.conf && ip link set lo up && exec '" +
                      std::string(CONSOLE_GW) + "' --config '" + config + "'"},
                 log_);
  } else {
    pid_ = spawn({CONSOLE_GW, "--config", config}, log_);
  }
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    try {
      if (inside([this] { return http_get(port_, "/healthz").status; }) == 200) return;
    } catch (const std::exception&) {
    }
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("console-gw exited at start: " + log());
    }
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("console-gw does not answer /healthz: " + log());
}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string GatewayProcess::token(const std::string& host_id, const std::string& uuid) const {
  return mint_token(key_file_, host_id, uuid);
}

std::string GatewayProcess::log() const { return read_text(log_); }

std::optional<double> GatewayProcess::active() const {
  try {
    return sessions_active(inside([this] { return http_get(port_, "/metrics").body; }));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool GatewayProcess::none_active_within(std::chrono::milliseconds limit) const {
  return test::none_active_within([this] { return active(); }, limit);
}

void GatewayProcess::enter_network() const {
  const int fd =
      ::open(("/proc/" + std::to_string(pid_) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC);
  const bool entered = fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
  if (fd >= 0) ::close(fd);
  if (!entered) throw std::runtime_error("cannot enter the gateway's network namespace");
}

int GatewayProcess::warm_up(const std::string& host_id, const std::string& uuid) const {
  const std::string t = target(host_id, uuid);
  return inside([this, &t] { return http_get(port_, t).status; });
}

bool GatewayProcess::fds_at_most_within(long fds, std::chrono::milliseconds limit) const {
  const auto deadline = Clock::now() + limit;
  do {
    const auto s = sample();
    if (s && s->fds <= fds) return true;
    std::this_thread::sleep_for(50ms);
  } while (Clock::now() < deadline);
  return false;
}

bool GatewayProcess::stop(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return true;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      // A sanitizer's report (a leak at exit, say) makes the status non-zero.
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace cgw::test
