// `console-gw check` finds what an operator must fix, one line each: an expired
// or expiring certificate, a host libvirt can't reach, an SSH host key the
// gateway does not trust (a real sshd), a wrong token key; and exits 1 when
// anything failed. With everything right it exits 0.
#include "admin/pki.hpp"
#include "admin_support.hpp"
#include "sshd_fixture.hpp"
#include "tests/support/closed_port.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

namespace cgw::admin::test {
namespace {

using cgw::test::Scratch;
namespace ssh = cgw::tunnel::test;

// A config with a certificate valid for `days` (negative: expired) and a local host.
class Check : public ::testing::Test {
 protected:
  std::string config(int days, const std::string& hosts) {
    const CertificateAndKey cert = make_self_signed({"localhost", {"localhost"}, days});
    dir.write("tls.crt", cert.certificate_pem);
    dir.write("tls.key", cert.key_pem);
    dir.write("token.pem", generate_ed25519().public_pem);
    return dir.write("console-gw.toml", "[gateway]\npublic_host = \"localhost\"\ncert = \"" +
                                            dir.path("tls.crt") + "\"\nkey = \"" +
                                            dir.path("tls.key") + "\"\n[tokens]\nkey_file = \"" +
                                            dir.path("token.pem") + "\"\n" + hosts);
  }
  Ran check(const std::string& file) {
    return console_gw({"check", "--config", file, "--timeout", "5s"});
  }
  Scratch dir;
};

TEST_F(Check, AllGoodExitsZero) {
  const Ran ran = check(config(400, "[hosts.local]\nuri = \"test:///default\"\n"));
  EXPECT_EQ(ran.status, 0) << ran.output;
  EXPECT_NE(ran.output.find("ok    certificate"), std::string::npos) << ran.output;
  EXPECT_NE(ran.output.find("ok    host local libvirt    test:///default: libvirt "),
            std::string::npos)
      << ran.output;
  EXPECT_NE(ran.output.find(" 0 failed\n"), std::string::npos) << ran.output;
}

TEST_F(Check, AnExpiredCertificateFails) {
  const Ran ran = check(config(-1, "[hosts.local]\nuri = \"test:///default\"\n"));
  EXPECT_EQ(ran.status, 1) << ran.output;
  EXPECT_NE(ran.output.find("FAIL  certificate           " + dir.path("tls.crt") +
                            " (/CN=localhost) expired on "),
            std::string::npos)
      << ran.output;
  EXPECT_NE(ran.output.find(", 1 failed\n"), std::string::npos) << ran.output;
}

TEST_F(Check, ACertificateCloseToExpiryWarns) {
  const Ran ran = check(config(12, "[hosts.local]\nuri = \"test:///default\"\n"));
  EXPECT_EQ(ran.status, 0) << ran.output;
  EXPECT_NE(ran.output.find("warn  certificate           " + dir.path("tls.crt") +
                            " (/CN=localhost) expires in 11 days ("),
            std::string::npos)
      << ran.output;
}

TEST_F(Check, AHostLibvirtCannotReachFails) {
  cgw::test::ClosedPort closed;
  const Ran ran = check(config(400, "[hosts.kvm09]\nuri = \"qemu+tcp://127.0.0.1:" +
                                        std::to_string(closed.port()) + "/system\"\n"));
  EXPECT_EQ(ran.status, 1) << ran.output;
  EXPECT_NE(ran.output.find("FAIL  host kvm09 libvirt    qemu+tcp://127.0.0.1:"), std::string::npos)
      << ran.output;
  EXPECT_NE(ran.output.find("Connection refused"), std::string::npos) << ran.output;
}

TEST_F(Check, ABrokenConfigIsItsOneLine) {
  const std::string file = dir.write("broken.toml", "[gateway]\nport = \"many\"\n");
  const Ran ran = check(file);
  EXPECT_EQ(ran.status, 1);
  EXPECT_NE(ran.output.find("FAIL  config                " + file + ": gateway.port: "),
            std::string::npos)
      << ran.output;
}

TEST_F(Check, AMissingTokenKeyFails) {
  const std::string file = config(400, "[hosts.local]\nuri = \"test:///default\"\n");
  std::filesystem::remove(dir.path("token.pem"));
  const Ran ran = check(file);
  EXPECT_EQ(ran.status, 1);
  EXPECT_NE(ran.output.find("FAIL  token key             tokens.key_file: "), std::string::npos)
      << ran.output;
}

// [tokens] replay_store: a real redis-server that answers, then is stopped;
// its password never shows.
TEST_F(Check, TheReplayStoreAnswersOrFails) {
  cgw::test::RedisServer redis(dir.dir().string(), "cgw-check-redis-pw");
  dir.write("redis.password", "cgw-check-redis-pw\n");
  const std::string file =
      config(400, "replay_store = \"redis://127.0.0.1:" + std::to_string(redis.port()) +
                      "\"\nreplay_store_password_file = \"" + dir.path("redis.password") +
                      "\"\n[hosts.local]\nuri = \"test:///default\"\n");
  const Ran ran = check(file);
  EXPECT_EQ(ran.status, 0) << ran.output;
  EXPECT_NE(ran.output.find("ok    replay store          redis at 127.0.0.1:" +
                            std::to_string(redis.port()) + " answers"),
            std::string::npos)
      << ran.output;
  redis.stop();
  const Ran down = check(file);
  EXPECT_EQ(down.status, 1) << down.output;
  EXPECT_NE(down.output.find("FAIL  replay store          redis at 127.0.0.1:"), std::string::npos)
      << down.output;
  EXPECT_EQ(down.output.find("cgw-check-redis-pw"), std::string::npos) << down.output;
}

// A real sshd; the gateway's key is authorised there, and known_hosts is right or wrong.
class CheckSsh : public Check {
 protected:
  void SetUp() override {
    host_key = ssh::generate_key(dir.path("host_key"), "ed25519");
    other_key = ssh::generate_key(dir.path("other_key"), "ed25519");
    client = ssh::generate_key(dir.path("client"), "ed25519");
    dir.write("authorized_keys", client.public_line + "\n");
    std::filesystem::create_directories(dir.path("sshd"));
    sshd.emplace(dir.path("sshd"), ssh::free_port(), host_key.private_key,
                 dir.path("authorized_keys"));
    sshd->start();
  }
  std::string host(const std::string& known_hosts_line) {
    dir.write("known_hosts", known_hosts_line + "\n");
    // libvirt's own ssh transport has no libvirtd behind this sshd; check reports
    // that separately from the tunnel's SSH line.
    return "[hosts.hv]\nuri = \"qemu+ssh://root@127.0.0.1:" + std::to_string(sshd->port()) +
           "/system\"\nssh_key = \"" + client.private_key + "\"\nknown_hosts = \"" +
           dir.path("known_hosts") + "\"\n";
  }
  std::string key_part(const std::string& line) { return line.substr(0, line.rfind(' ')); }

  ssh::KeyPair host_key, other_key, client;
  std::optional<ssh::Sshd> sshd;
};

TEST_F(CheckSsh, ATrustedHostLogsIn) {
  const std::string where = "[127.0.0.1]:" + std::to_string(sshd->port());
  const Ran ran = check(config(400, host(where + " " + key_part(host_key.public_line))));
  EXPECT_NE(
      ran.output.find("ok    host hv ssh           127.0.0.1:" + std::to_string(sshd->port()) +
                      ": logged in as root, host key "
                      "ssh-ed25519 " +
                      ssh::openssh_fingerprint(dir.path("host_key.pub"))),
      std::string::npos)
      << ran.output;
}

TEST_F(CheckSsh, AnUntrustedHostKeyFails) {
  const std::string where = "[127.0.0.1]:" + std::to_string(sshd->port());
  const Ran ran = check(config(400, host(where + " " + key_part(other_key.public_line))));
  EXPECT_EQ(ran.status, 1) << ran.output;
  EXPECT_NE(
      ran.output.find("FAIL  host hv ssh           127.0.0.1:" + std::to_string(sshd->port()) +
                      ": host key not trusted: changed ssh-ed25519 key " +
                      ssh::openssh_fingerprint(dir.path("host_key.pub")) + " in " +
                      dir.path("known_hosts")),
      std::string::npos)
      << ran.output;
}

TEST_F(CheckSsh, AKeyTheHostDoesNotAcceptFails) {
  const std::string where = "[127.0.0.1]:" + std::to_string(sshd->port());
  dir.write("authorized_keys", other_key.public_line + "\n");
  const Ran ran = check(config(400, host(where + " " + key_part(host_key.public_line))));
  EXPECT_EQ(ran.status, 1) << ran.output;
  EXPECT_NE(
      ran.output.find("FAIL  host hv ssh           127.0.0.1:" + std::to_string(sshd->port()) +
                      ": SSH authentication as root failed with " + client.private_key),
      std::string::npos)
      << ran.output;
}

}  // namespace
}  // namespace cgw::admin::test

namespace cgw::admin::test {
namespace {

// setup with an SSH host: the host key is recorded only when the answer is yes
// or the fingerprint it shows; the key setup made then logs in, as check proves.
TEST_F(CheckSsh, SetupRecordsAHostKeyOnlyWhenConfirmed) {
  const std::string root = dir.path("root");
  const std::string fingerprint = ssh::openssh_fingerprint(dir.path("host_key.pub"));
  auto answers = [&](const std::string& trust) {
    return dir.write("answers.toml",
                     "fqdn = \"localhost\"\ntls = \"none\"\nsystemd = false\n[[hosts]]\n"
                     "id = \"hv\"\nuri = \"qemu+ssh://root@127.0.0.1:" +
                         std::to_string(sshd->port()) +
                         "/system\"\nkeep_unreachable = true\ntrust_host_key = \"" + trust +
                         "\"\n");
  };
  const std::string known_hosts = root + "/var/lib/console-gw/.ssh/known_hosts";

  const Ran wrong =
      console_gw({"setup", "--answers", answers("SHA256:not-this-one"), "--root", root});
  EXPECT_EQ(wrong.status, 2) << wrong.output;
  EXPECT_NE(wrong.output.find("hosts.0.trust_host_key: the host presents " + fingerprint +
                              ", not SHA256:not-this-one"),
            std::string::npos)
      << wrong.output;
  EXPECT_FALSE(std::filesystem::exists(known_hosts));

  const Ran no = console_gw({"setup", "--answers", answers("no"), "--root", root});
  ASSERT_EQ(no.status, 0) << no.output;
  EXPECT_NE(no.output.find("SSH host key of 127.0.0.1:" + std::to_string(sshd->port()) +
                           ": ssh-ed25519 " + fingerprint),
            std::string::npos)
      << no.output;
  EXPECT_NE(no.output.find("Not trusted"), std::string::npos) << no.output;
  EXPECT_FALSE(std::filesystem::exists(known_hosts));

  const Ran yes = console_gw({"setup", "--answers", answers(fingerprint), "--root", root});
  ASSERT_EQ(yes.status, 0) << yes.output;
  const std::string line =
      "[127.0.0.1]:" + std::to_string(sshd->port()) + " " + key_part(host_key.public_line) + "\n";
  EXPECT_EQ(slurp(known_hosts), line);
  // Not yet authorised on the host: setup says what to add where.
  EXPECT_NE(yes.output.find("Add the gateway's key to ~root/.ssh/authorized_keys on 127.0.0.1"),
            std::string::npos)
      << yes.output;
  const std::string config = slurp(root + "/etc/console-gw/console-gw.toml");
  EXPECT_NE(config.find("ssh_key = \"/var/lib/console-gw/.ssh/id_ed25519\"\n"
                        "known_hosts = \"/var/lib/console-gw/.ssh/known_hosts\"\n"),
            std::string::npos)
      << config;

  // Authorised now; a re-run records nothing twice.
  dir.write("authorized_keys", slurp(root + "/var/lib/console-gw/.ssh/id_ed25519.pub"));
  const Ran again = console_gw({"setup", "--answers", answers(fingerprint), "--root", root});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("is already trusted"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("SSH login to 127.0.0.1:" + std::to_string(sshd->port()) + ": ok"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(slurp(known_hosts), line);

  const Ran check = sh(in_root(root, quote(CONSOLE_GW) + " check --timeout 5s"));
  EXPECT_NE(check.output.find("ok    host hv ssh           127.0.0.1:" +
                              std::to_string(sshd->port()) + ": logged in as root"),
            std::string::npos)
      << check.output;
}

}  // namespace
}  // namespace cgw::admin::test
