// The command line: flags over the file, flag errors naming the flag, the
// `token` subcommand, --help and --version.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <variant>
#include <vector>

#include "gateway/cli.hpp"
#include "tests/support/scratch.hpp"

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;
using TempDir = ::cgw::test::Scratch;

Command parse(std::vector<std::string> args) {
  args.insert(args.begin(), "console-gw");
  return parse_command_line(args);
}

Config serve(std::vector<std::string> args) {
  Command command = parse(std::move(args));
  if (!std::holds_alternative<ServeCommand>(command)) {
    ADD_FAILURE() << "not a ServeCommand";
    return {};
  }
  return std::get<ServeCommand>(std::move(command)).config;
}

TokenCommand token(std::vector<std::string> args) {
  args.insert(args.begin(), "token");
  Command command = parse(std::move(args));
  if (!std::holds_alternative<TokenCommand>(command)) {
    ADD_FAILURE() << "not a TokenCommand";
    return {};
  }
  return std::get<TokenCommand>(std::move(command));
}

// The ConfigError text for the arguments, or "" when they are accepted.
std::string cli_error(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const ConfigError& error) {
    return error.what();
  }
  return {};
}

::testing::AssertionResult names(const std::string& error, const std::string& flag,
                                 const std::string& problem) {
  if (error.empty()) return ::testing::AssertionFailure() << "accepted";
  if (!error.starts_with(flag + ": ")) {
    return ::testing::AssertionFailure() << "does not start with " << flag << ": " << error;
  }
  if (error.find(problem) == std::string::npos) {
    return ::testing::AssertionFailure() << "does not say \"" << problem << "\": " << error;
  }
  if (error.find('\n') != std::string::npos) {
    return ::testing::AssertionFailure() << "more than one line: " << error;
  }
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Serving

TEST(CommandLine, NoArgumentsServesTheLocalHypervisor) {
  const Config config = serve({});
  EXPECT_EQ(config.file, "");
  EXPECT_EQ(config.listen, "0.0.0.0");
  EXPECT_EQ(config.port, 6080);
  EXPECT_FALSE(config.ssl_only);
  ASSERT_EQ(config.hosts.size(), 1u);
  EXPECT_EQ(config.hosts[0].id, "local");
  EXPECT_EQ(config.hosts[0].uri, "qemu:///system");
  EXPECT_FALSE(config.hosts[0].ssh);
}

TEST(CommandLine, EveryServeFlagRead) {
  const Config config =
      serve({"--listen", "::", "--ws-port", "6443", "--public-host", "console.example.com",
             "--cert", "/etc/cgw/cert.pem", "--key", "/etc/cgw/key.pem", "--ssl-only", "--web",
             "/usr/share/novnc", "--log-level", "debug"});
  EXPECT_EQ(config.listen, "::");
  EXPECT_EQ(config.port, 6443);
  EXPECT_EQ(config.public_host, "console.example.com");
  EXPECT_EQ(config.cert, "/etc/cgw/cert.pem");
  EXPECT_EQ(config.key, "/etc/cgw/key.pem");
  EXPECT_TRUE(config.ssl_only);
  EXPECT_EQ(config.web, "/usr/share/novnc");
  EXPECT_EQ(config.log_level, "debug");
}

TEST(CommandLine, ValueAfterEqualsSign) {
  const Config config = serve({"--ws-port=7002", "--listen=127.0.0.1"});
  EXPECT_EQ(config.port, 7002);
  EXPECT_EQ(config.listen, "127.0.0.1");
}

TEST(CommandLine, FlagsOverrideTheFileWhereverTheyStand) {
  TempDir dir;
  const std::string path = dir.write("console-gw.toml",
                                     "[gateway]\nport = 7000\nlisten = \"10.0.0.1\"\n"
                                     "public_host = \"file.example.com\"\nlog_level = \"warn\"\n");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--config", path, "--ws-port", "7001", "--log-level", "error"},
           {"--ws-port", "7001", "--log-level", "error", "--config", path},
           {"--ws-port=7001", "--config=" + path, "--log-level=error"}}) {
    const Config config = serve(args);
    EXPECT_EQ(config.file, path);
    EXPECT_EQ(config.port, 7001) << "flag beats [gateway] port";
    EXPECT_EQ(config.log_level, "error");
    // What no flag names stays as the file says.
    EXPECT_EQ(config.listen, "10.0.0.1");
    EXPECT_EQ(config.public_host, "file.example.com");
  }
}

TEST(CommandLine, SslOnlyFlagBeforeConfigDoesNotSwallowIt) {
  TempDir dir;
  const std::string path =
      dir.write("c.toml", "[gateway]\ncert = \"/etc/cgw/cert.pem\"\nport = 7100\n");
  const Config config = serve({"--ssl-only", "--config", path});
  EXPECT_TRUE(config.ssl_only);
  EXPECT_EQ(config.port, 7100);
  EXPECT_EQ(config.cert, "/etc/cgw/cert.pem");
}

TEST(CommandLine, HostsComeFromTheFile) {
  TempDir dir;
  const std::string path =
      dir.write("c.toml", "[hosts.kvm1]\nuri = \"qemu+ssh://root@kvm1/system\"\n");
  const Config config = serve({"--config", path});
  ASSERT_EQ(config.hosts.size(), 1u);
  EXPECT_EQ(config.hosts[0].id, "kvm1");
  EXPECT_TRUE(config.hosts[0].ssh) << "a qemu+ssh:// URI implies ssh";
}

TEST(CommandLine, BadPortsNameTheFlag) {
  for (const std::string bad : {"abc", "0", "70000", "", "-1", "80x", "6080 "}) {
    EXPECT_TRUE(names(cli_error({"--ws-port", bad}), "--ws-port", "'" + bad + "'")) << bad;
    EXPECT_TRUE(names(cli_error({"--ws-port=" + bad}), "--ws-port", "port number")) << bad;
  }
}

TEST(CommandLine, MissingValueNamesTheFlag) {
  EXPECT_TRUE(names(cli_error({"--ws-port"}), "--ws-port", "needs a value"));
  EXPECT_TRUE(names(cli_error({"--listen"}), "--listen", "needs a value"));
  EXPECT_TRUE(names(cli_error({"--config"}), "--config", "needs a value"));
}

TEST(CommandLine, UnknownFlag) {
  EXPECT_TRUE(names(cli_error({"--bogus"}), "--bogus", "unknown option"));
  EXPECT_TRUE(names(cli_error({"--ws-port", "6080", "--bogus"}), "--bogus", "unknown option"));
  EXPECT_TRUE(names(cli_error({"serve"}), "serve", "unknown option"));
}

TEST(CommandLine, ConfigFileErrorsPropagate) {
  TempDir dir;
  const std::string path = dir.write("c.toml", "[gateway]\nprot = 1\n");
  const std::string error = cli_error({"--config", path});
  EXPECT_TRUE(error.starts_with(path + ": gateway.prot: unknown key")) << error;
}

TEST(CommandLine, WholeConfigChecksNameTheCommandLine) {
  EXPECT_TRUE(names(cli_error({"--ssl-only"}), "command line", "gateway.ssl_only"));
  EXPECT_TRUE(names(cli_error({"--key", "/etc/cgw/key.pem"}), "command line", "gateway.key"));
  EXPECT_EQ(cli_error({"--ssl-only", "--cert", "/etc/cgw/cert.pem"}), "");
}

TEST(CommandLine, WholeConfigChecksRunAfterTheFlags) {
  TempDir dir;
  const std::string path = dir.write("c.toml", "[gateway]\nssl_only = true\n");
  // The file alone is incomplete; --cert completes it.
  EXPECT_TRUE(names(cli_error({"--config", path}), path, "gateway.ssl_only"));
  const Config config = serve({"--config", path, "--cert", "/etc/cgw/cert.pem"});
  EXPECT_TRUE(config.ssl_only);
  EXPECT_EQ(config.cert, "/etc/cgw/cert.pem");
}

TEST(CommandLine, Help) {
  for (const std::string flag : {"--help", "-h"}) {
    const Command command = parse({"--ws-port", "6080", flag});
    ASSERT_TRUE(std::holds_alternative<HelpCommand>(command)) << flag;
    const std::string& text = std::get<HelpCommand>(command).text;
    EXPECT_TRUE(text.starts_with("usage: console-gw")) << text;
    EXPECT_NE(text.find("--ws-port"), std::string::npos);
  }
  // Help wins over a flag that would fail.
  EXPECT_TRUE(std::holds_alternative<HelpCommand>(parse({"--help", "--ws-port", "abc"})));
}

TEST(CommandLine, Version) {
  EXPECT_TRUE(std::holds_alternative<VersionCommand>(parse({"--version"})));
}

// Regression: `--log-level verbose` used to be taken and log at debug.
TEST(CommandLine, LogLevelFlagIsValidated) {
  for (const std::string ok : {"debug", "info", "warn", "error"}) {
    EXPECT_EQ(serve({"--log-level", ok}).log_level, ok);
  }
  EXPECT_TRUE(names(cli_error({"--log-level", "verbose"}), "--log-level", "verbose"));
}

TEST(CommandLine, LogFormatFlagIsValidated) {
  EXPECT_EQ(serve({"--log-format", "json"}).log_format, "json");
  EXPECT_EQ(serve({"--log-format", "text"}).log_format, "text");
  EXPECT_TRUE(names(cli_error({"--log-format", "xml"}), "--log-format", "xml"));
}

// ---------------------------------------------------------------------------
// console-gw token ...

TEST(TokenCommandLine, AllFlags) {
  const TokenCommand cmd =
      token({"--host", "kvm1", "--uuid", "e28dfe30-ef8d-40df-a98c-b96463d99d54", "--console",
             "spice", "--ttl", "10m", "--signing-key", "/etc/cgw/token.key", "--audience", "ui"});
  EXPECT_EQ(cmd.host_id, "kvm1");
  EXPECT_EQ(cmd.uuid, "e28dfe30-ef8d-40df-a98c-b96463d99d54");
  EXPECT_EQ(cmd.console, std::optional<std::string>("spice"));
  EXPECT_EQ(cmd.ttl, 600s);
  EXPECT_EQ(cmd.signing_key, "/etc/cgw/token.key");
  EXPECT_EQ(cmd.audience, std::optional<std::string>("ui"));
}

TEST(TokenCommandLine, Defaults) {
  const TokenCommand cmd = token({"--host=local", "--uuid=u1", "--signing-key=k"});
  EXPECT_EQ(cmd.host_id, "local");
  EXPECT_EQ(cmd.uuid, "u1");
  EXPECT_EQ(cmd.signing_key, "k");
  EXPECT_EQ(cmd.console, std::nullopt);
  EXPECT_EQ(cmd.ttl, 60s);
  EXPECT_EQ(cmd.audience, std::nullopt);
}

TEST(TokenCommandLine, TtlForms) {
  const std::vector<std::string> base{"--host", "local", "--uuid", "u", "--signing-key", "k"};
  auto with_ttl = [&](const std::string& ttl) {
    auto args = base;
    args.insert(args.end(), {"--ttl", ttl});
    return args;
  };
  EXPECT_EQ(token(with_ttl("90")).ttl, 90s);
  EXPECT_EQ(token(with_ttl("30s")).ttl, 30s);
  EXPECT_EQ(token(with_ttl("2h")).ttl, 7200s);
  EXPECT_EQ(token(with_ttl("1000ms")).ttl, 1s);
  for (const std::string bad : {"abc", "0", "0s", "500ms", "-5s", "1d", ""}) {
    auto args = with_ttl(bad);
    args.insert(args.begin(), "token");
    EXPECT_TRUE(names(cli_error(args), "--ttl", "'" + bad + "'")) << bad;
  }
}

TEST(TokenCommandLine, ConsoleMustBeVncSpiceOrSerial) {
  EXPECT_EQ(token({"--host", "h", "--uuid", "u", "--signing-key", "k", "--console", "vnc"}).console,
            std::optional<std::string>("vnc"));
  const auto serial = token({"--host", "h", "--uuid", "u", "--signing-key", "k", "--console",
                             "serial", "--device", "serial0", "--force"});
  EXPECT_EQ(serial.console, std::optional<std::string>("serial"));
  EXPECT_EQ(serial.device, std::optional<std::string>("serial0"));
  EXPECT_TRUE(serial.force);
  EXPECT_TRUE(names(cli_error({"token", "--host", "h", "--uuid", "u", "--signing-key", "k",
                               "--device", "serial0"}),
                    "--device", "needs --console serial"));
  for (const std::string bad : {"rdp", "VNC", ""}) {
    EXPECT_TRUE(names(
        cli_error({"token", "--host", "h", "--uuid", "u", "--signing-key", "k", "--console", bad}),
        "--console", "vnc, spice or serial"))
        << bad;
  }
}

TEST(TokenCommandLine, RequiredFlags) {
  EXPECT_TRUE(
      names(cli_error({"token", "--uuid", "u", "--signing-key", "k"}), "--host", "required"));
  EXPECT_TRUE(
      names(cli_error({"token", "--host", "h", "--signing-key", "k"}), "--uuid", "required"));
  EXPECT_TRUE(
      names(cli_error({"token", "--host", "h", "--uuid", "u"}), "--signing-key", "required"));
  EXPECT_TRUE(names(cli_error({"token"}), "--host", "required"));
}

TEST(TokenCommandLine, BadHostIdUnknownFlagMissingValue) {
  EXPECT_TRUE(names(cli_error({"token", "--host", "kvm-1", "--uuid", "u", "--signing-key", "k"}),
                    "--host", "letters, digits"));
  EXPECT_TRUE(names(
      cli_error({"token", "--host", "h", "--uuid", "u", "--signing-key", "k", "--ws-port", "1"}),
      "--ws-port", "unknown option"));
  EXPECT_TRUE(names(cli_error({"token", "--host", "h", "--uuid"}), "--uuid", "needs a value"));
}

TEST(TokenCommandLine, Help) {
  const Command command = parse({"token", "--help"});
  ASSERT_TRUE(std::holds_alternative<HelpCommand>(command));
  EXPECT_TRUE(std::get<HelpCommand>(command).text.starts_with("usage: console-gw token"));
}

}  // namespace
}  // namespace cgw::gateway
