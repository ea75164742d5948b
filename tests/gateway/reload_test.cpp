// What a reload reports as needing a restart: each fixed setting by its key.
#include "gateway/reload.hpp"
#include "gateway/config.hpp"

#include <gtest/gtest.h>

namespace cgw::gateway {
namespace {

using Keys = std::vector<std::string>;

HostConfig host(std::string id, std::string uri) {
  HostConfig h;
  h.id = std::move(id);
  h.uri = std::move(uri);
  return h;
}

TEST(ReloadRestartOnly, ReloadableSettingsAreNotReported) {
  Config running;
  Config next = running;
  next.token_key_file = "/etc/console-gw/other.key";
  next.audience = "console-gw";
  next.max_ttl = std::chrono::seconds(60);
  next.cert = "/etc/console-gw/tls.crt";
  next.key = "/etc/console-gw/tls.key";
  next.log_level = "debug";
  EXPECT_EQ(restart_only_changes(running, next), Keys{});
}

// The admission tables and the sessions' limits are made at start.
TEST(ReloadRestartOnly, LimitsAreFixed) {
  const Config running;
  Config next;
  next.limits.max_sessions = 10;
  next.limits.idle_timeout = std::chrono::minutes(15);
  EXPECT_EQ(restart_only_changes(running, next), Keys{"limits"});
}

TEST(ReloadRestartOnly, FixedSettingsAreNamedByTheirKeys) {
  Config running;
  running.hosts.push_back(host("local", "qemu:///system"));
  Config next = running;
  next.port = 6081;
  next.listen = "127.0.0.1";
  next.threads = 4;
  next.hosts[0].uri = "qemu+ssh://kvm01/system";
  EXPECT_EQ(restart_only_changes(running, next),
            (Keys{"gateway.listen", "gateway.port", "gateway.threads", "hosts"}));
}

// The static roots are opened once, with the links they may follow.
TEST(ReloadRestartOnly, StaticLinkRootsAreFixed) {
  const Config running;
  Config next;
  next.static_link_roots = {"/usr/share/javascript", "/opt/js"};
  EXPECT_EQ(restart_only_changes(running, next), Keys{"gateway.static_link_roots"});
}

TEST(ReloadRestartOnly, AHostAddedIsAChange) {
  Config running;
  Config next = running;
  next.hosts.push_back(host("kvm01", "qemu+ssh://kvm01/system"));
  EXPECT_EQ(restart_only_changes(running, next), Keys{"hosts"});
}

}  // namespace
}  // namespace cgw::gateway
