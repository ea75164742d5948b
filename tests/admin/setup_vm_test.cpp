// The whole of issue 13's promise on real parts: `console-gw setup --answers`
// into a fresh root, `console-gw check` accepting it, and console-gw serving a
// real QEMU VM's console (libvirtd, wss with setup's certificate, a token signed
// with setup's Ed25519 key) through the config setup wrote.
#include "admin_support.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/process.hpp"
#include "tests/support/rfb_client.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace cgw::admin::test {
namespace {

using cgw::test::Scratch;

TEST(SetupServesAVm, AnswersCheckAndAConsole) {
  Scratch dir;
  const std::string root = dir.path("root");
  const std::uint16_t port = cgw::test::free_port();
  const std::string answers = dir.write(
      "answers.toml", "fqdn = \"localhost\"\nport = " + std::to_string(port) +
                          "\ntls = \"self-signed\"\ntoken_key = \"generate\"\nsystemd = false\n"
                          "[[hosts]]\nid = \"local\"\nuri = \"qemu:///system\"\n");
  const Ran setup = console_gw({"setup", "--answers", answers, "--root", root});
  ASSERT_EQ(setup.status, 0) << setup.output;
  ASSERT_NE(setup.output.find("Testing libvirt at qemu:///system ... ok"), std::string::npos)
      << setup.output;

  const Ran check = sh(in_root(root, quote(CONSOLE_GW) + " check"));
  ASSERT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find("ok    host local libvirt    qemu:///system: libvirt "),
            std::string::npos)
      << check.output;

  cgw::test::TestDomain vm("cgw-it-setup",
                           "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
                           "<video><model type='cirrus'/></video>");
  const std::string log = dir.path("gateway.log");
  const pid_t gateway = cgw::test::spawn(
      {"/bin/sh", "-c",
       in_root(root, "exec " + quote(CONSOLE_GW) + " --config /etc/console-gw/console-gw.toml")},
      log);
  for (int i = 0; i < 100 && slurp(log).find("listening on") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(slurp(log).find("listening on 0.0.0.0:" + std::to_string(port) + " (ws and wss)"),
            std::string::npos)
      << slurp(log);

  const Ran token = console_gw({"token", "--host", "local", "--uuid", vm.uuid(), "--signing-key",
                                root + "/etc/console-gw/management-ui/token-signing-key.pem"});
  ASSERT_EQ(token.status, 0) << token.output;
  cgw::test::WsOptions options;
  options.port = port;
  options.tls = true;
  options.ca_file = root + "/etc/console-gw/tls.crt";  // setup's certificate, for "localhost"
  options.host = "localhost";
  options.target = "/websockify?token=" + token.output.substr(0, token.output.find('\n'));
  auto client = cgw::test::WsClient::connect(options);
  const cgw::test::ServerInit init = cgw::test::rfb_connect(*client);
  EXPECT_GT(init.width, 0u);
  EXPECT_EQ(init.name, "QEMU (cgw-it-setup)");
  client->close();

  ::kill(gateway, SIGTERM);
  ::waitpid(gateway, nullptr, 0);
}

}  // namespace
}  // namespace cgw::admin::test
