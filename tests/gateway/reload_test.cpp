// What a reload reports as needing a restart: each fixed setting by its key.
// And the host set a reload swaps: unchanged hosts keep their libvirt
// connection (real ones, on libvirt's test:/// driver), removed hosts stay in
// the old set for the sessions that hold it, broken host files are refused.
#include "gateway/reload.hpp"
#include "gateway/config.hpp"
#include "gateway/host_set.hpp"
#include "tests/support/scratch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

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
  next.libvirt_threads = 8;
  next.hosts[0].uri = "qemu+ssh://kvm01/system";
  EXPECT_EQ(restart_only_changes(running, next),
            (Keys{"gateway.listen", "gateway.port", "gateway.threads", "gateway.libvirt_threads"}));
}

// The static roots are opened once, with the links they may follow.
TEST(ReloadRestartOnly, StaticLinkRootsAreFixed) {
  const Config running;
  Config next;
  next.static_link_roots = {"/usr/share/javascript", "/opt/js"};
  EXPECT_EQ(restart_only_changes(running, next), Keys{"gateway.static_link_roots"});
}

// [hosts] is reloaded, not fixed.
TEST(ReloadRestartOnly, HostsAreReloadable) {
  Config running;
  running.hosts.push_back(host("local", "qemu:///system"));
  Config next = running;
  next.hosts.push_back(host("kvm01", "qemu+ssh://kvm01/system"));
  next.hosts[0].vnc_password_file = "/etc/console-gw/vnc.pass";
  EXPECT_EQ(restart_only_changes(running, next), Keys{});
}

TEST(HostChanges, NamesAddedRemovedAndChangedHosts) {
  const std::vector<HostConfig> before{host("a", "test:///default"), host("b", "test:///default"),
                                       host("c", "test:///default")};
  std::vector<HostConfig> after{host("a", "test:///default"), host("c", "qemu:///system"),
                                host("d", "test:///default")};
  const HostChanges changes = host_changes(before, after);
  EXPECT_EQ(changes.added, Keys{"d"});
  EXPECT_EQ(changes.removed, Keys{"b"});
  EXPECT_EQ(changes.changed, Keys{"c"});
  EXPECT_TRUE(host_changes(before, before).empty());
}

// ---------------------------------------------------------------------------
// Host sets on libvirt's test:/// driver.

namespace net = boost::asio;

class HostSetTest : public ::testing::Test {
 protected:
  // Looks a domain up on `host` of `set`; the test driver has no such UUID,
  // so a reachable host answers unknown_domain (and is then connected).
  libvirt::DomainLookup::Status lookup(const HostSet& set, const std::string& host_id) {
    auto result =
        net::co_spawn(io, set.hypervisors->lookup(host_id, "00000000-0000-0000-0000-000000000000"),
                      net::use_future);
    io.restart();
    io.run();
    return result.get().status;
  }

  static Config config_of(std::vector<HostConfig> hosts) {
    Config c;
    c.file = "/etc/console-gw/console-gw.toml";
    c.hosts = std::move(hosts);
    return c;
  }

  net::io_context io;
  test::Scratch scratch;
};

TEST_F(HostSetTest, UnchangedHostsKeepTheirConnection) {
  const auto first = load_host_set(
      config_of({host("a", "test:///default"), host("b", "test:///default")}), nullptr, nullptr);
  ASSERT_EQ(lookup(*first, "a"), libvirt::DomainLookup::Status::unknown_domain);
  ASSERT_EQ(lookup(*first, "b"), libvirt::DomainLookup::Status::unknown_domain);

  HostConfig changed = host("b", "test:///default");
  changed.vnc_password_from_libvirt = true;  // a read-write connection now
  const auto second = load_host_set(
      config_of({host("a", "test:///default"), changed, host("c", "test:///default")}), first.get(),
      nullptr);
  EXPECT_TRUE(second->hypervisors->shares_host(*first->hypervisors, "a"));
  EXPECT_TRUE(second->hypervisors->connected("a"));  // without a call of its own
  EXPECT_FALSE(second->hypervisors->shares_host(*first->hypervisors, "b"));
  EXPECT_FALSE(second->hypervisors->connected("b"));
  EXPECT_FALSE(second->hypervisors->connected("c"));
  EXPECT_EQ(lookup(*second, "c"), libvirt::DomainLookup::Status::unknown_domain);
  EXPECT_EQ(second->states.hosts, (Keys{"a", "b", "c"}));
  EXPECT_EQ(second->routes.count("c"), 1U);
  EXPECT_EQ(second->security.count("c"), 1U);
}

TEST_F(HostSetTest, ARemovedHostLivesOnInTheOldSet) {
  auto first = load_host_set(
      config_of({host("a", "test:///default"), host("b", "test:///default")}), nullptr, nullptr);
  ASSERT_EQ(lookup(*first, "b"), libvirt::DomainLookup::Status::unknown_domain);
  const auto second =
      load_host_set(config_of({host("a", "test:///default")}), first.get(), nullptr);
  EXPECT_EQ(lookup(*second, "b"), libvirt::DomainLookup::Status::unknown_host);
  EXPECT_EQ(second->routes.count("b"), 0U);
  // A session that took the first set still reaches b.
  EXPECT_EQ(lookup(*first, "b"), libvirt::DomainLookup::Status::unknown_domain);
  EXPECT_TRUE(first->hypervisors->connected("b"));
  // The first set goes; a, shared, stays usable in the second.
  first.reset();
  EXPECT_EQ(lookup(*second, "a"), libvirt::DomainLookup::Status::unknown_domain);
}

TEST_F(HostSetTest, TheLastOwnerHandsTheSetToTheRetirer) {
  std::vector<HostSet*> retired;
  auto set = load_host_set(config_of({host("a", "test:///default")}), nullptr, nullptr,
                           [&retired](HostSet* done) { retired.push_back(done); });
  auto session = set;  // a session holds it
  set.reset();
  EXPECT_TRUE(retired.empty());
  session.reset();
  ASSERT_EQ(retired.size(), 1U);
  delete retired.front();
}

TEST_F(HostSetTest, AnUnreadablePasswordFileIsRefusedWithItsKey) {
  HostConfig bad = host("b", "test:///default");
  bad.vnc_password_file = scratch.path("missing.pass");
  const auto first = load_host_set(config_of({host("a", "test:///default")}), nullptr, nullptr);
  try {
    load_host_set(config_of({host("a", "test:///default"), bad}), first.get(), nullptr);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "/etc/console-gw/console-gw.toml: hosts.b.vnc_password_file: "
              "cannot read " +
                  scratch.path("missing.pass"));
  }
}

TEST_F(HostSetTest, ABadConsoleCaIsRefusedWithItsKey) {
  HostConfig bad = host("b", "test:///default");
  bad.console_ca = scratch.write("ca.pem", "not a certificate\n");
  try {
    load_host_set(config_of({bad}), nullptr, nullptr);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("hosts.b.console_ca: "), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cgw::gateway
