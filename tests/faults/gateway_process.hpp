// The real console-gw binary for the fault tests: started with a config file of
// the test's own, watched through /proc (descriptors, threads, memory) and its
// /metrics, and stopped with SIGTERM (SIGKILL if it does not go).
#pragma once

#include "tests/support/scratch.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>

namespace cgw::test {

// What /proc says of a process.
struct ProcessSample {
  long fds = 0;
  long threads = 0;
  long rss_kib = 0;
};
std::optional<ProcessSample> sample_process(pid_t pid);

class GatewayProcess {
 public:
  // `alone`: in network and mount namespaces of its own with only a loopback
  // and an /etc/resolv.conf that names 127.0.0.1, where nothing answers: no
  // packet it sends (a DNS query) leaves it. Reach it with inside().
  enum class Network { shared, alone };
  // `gateway` and `hosts`: TOML lines for the [gateway] table (after listen,
  // port and threads, which this sets) and the [hosts.*] tables. Waits until
  // /healthz answers; throws when it does not within 10 s.
  GatewayProcess(const Scratch& scratch, const std::string& gateway, const std::string& hosts,
                 const std::string& listen = "127.0.0.1", Network network = Network::shared);
  ~GatewayProcess();
  GatewayProcess(const GatewayProcess&) = delete;
  GatewayProcess& operator=(const GatewayProcess&) = delete;

  // Runs `f` where the gateway's network is: on a thread in its namespace when
  // it has its own (sockets made there stay there), else here.
  template <class F>
  auto inside(F f) const {
    if (network_ == Network::shared) return f();
    return std::async(std::launch::async,
                      [this, &f] {
                        enter_network();
                        return f();
                      })
        .get();
  }

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  std::string token(const std::string& host_id, const std::string& uuid) const;
  std::string target(const std::string& host_id, const std::string& uuid) const {
    return "/websockify?token=" + token(host_id, uuid);
  }
  std::string log() const;
  std::optional<ProcessSample> sample() const { return sample_process(pid_); }
  // console_gw_sessions_active from /metrics.
  std::optional<double> active() const;
  bool none_active_within(std::chrono::milliseconds limit) const;
  // Authorises a console without opening it (the plain HTTP form: 426), so
  // that the host's libvirt connection is open; returns the HTTP status.
  int warm_up(const std::string& host_id, const std::string& uuid) const;
  // Whether it holds at most `fds` descriptors within `limit`.
  bool fds_at_most_within(long fds, std::chrono::milliseconds limit) const;
  // SIGTERM; whether it exited with status 0 within `limit` (else it is killed
  // by the destructor).
  bool stop(std::chrono::milliseconds limit = std::chrono::seconds(15));

 private:
  void enter_network() const;  // setns() of the calling thread

  Network network_ = Network::shared;
  std::string key_file_;
  std::string log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace cgw::test
