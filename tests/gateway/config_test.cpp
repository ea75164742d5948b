// The TOML configuration: real files in a temp dir. Every refusal is one line
// that names the file, the key and the problem; a valid file is read key by key.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/config.hpp"
#include "tests/support/scratch.hpp"

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;
using TempDir = ::cgw::test::Scratch;

// The ConfigError text for loading and finishing `path`, or "" when it is accepted.
std::string config_error(const std::string& path) {
  try {
    Config config = load_config_file(path);
    finish_config(config);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return {};
}

const HostConfig* find_host(const Config& config, std::string_view id) {
  auto it = std::find_if(config.hosts.begin(), config.hosts.end(),
                         [&](const HostConfig& h) { return h.id == id; });
  return it == config.hosts.end() ? nullptr : &*it;
}

// ---------------------------------------------------------------------------
// Refusals, by table: the file's text, the key the message must name, and a
// phrase that says what is wrong.

struct ErrorRow {
  const char* name;
  std::string_view toml;
  std::string_view key;
  std::string_view problem;
};

void PrintTo(const ErrorRow& row, std::ostream* os) { *os << row.name; }

// clang-format off
const ErrorRow error_rows[] = {
  {"UnknownSection",      "[gatway]\nport = 6080\n",                  "gatway",              "unknown section"},
  {"UnknownTopLevelKey",  "port = 6080\n",                            "port",                "unknown section"},
  {"UnknownGatewayKey",   "[gateway]\nprot = 6080\n",                 "gateway.prot",        "unknown key"},
  {"UnknownTokensKey",    "[tokens]\nsecret = \"x\"\n",               "tokens.secret",       "unknown key"},
  {"UnknownHostKey",      "[hosts.kvm1]\nuri = \"qemu:///system\"\nsshuser = \"root\"\n",
                                                                      "hosts.kvm1.sshuser",  "unknown key"},
  {"GatewayNotATable",    "gateway = 1\n",                            "gateway",             "must be a table"},
  {"HostsNotATable",      "hosts = \"kvm1\"\n",                       "hosts",               "must be a table"},
  {"HostNotATable",       "[hosts]\nkvm1 = \"qemu:///system\"\n",     "hosts.kvm1",          "must be a table"},
  {"PortIsString",        "[gateway]\nport = \"6080\"\n",             "gateway.port",        "must be an integer"},
  {"PortIsFloat",         "[gateway]\nport = 6080.0\n",               "gateway.port",        "must be an integer"},
  {"ListenIsNumber",      "[gateway]\nlisten = 0\n",                  "gateway.listen",      "must be a string"},
  {"SslOnlyIsString",     "[gateway]\nssl_only = \"yes\"\n",          "gateway.ssl_only",    "must be true or false"},
  {"OriginsIsString",     "[gateway]\nallowed_origins = \"https://a.example\"\n",
                                                                      "gateway.allowed_origins", "must be an array of strings"},
  {"OriginsHoldsNumber",  "[gateway]\nallowed_origins = [\"https://a.example\", 3]\n",
                                                                      "gateway.allowed_origins", "must be an array of strings"},
  {"AudienceIsNumber",    "[tokens]\naudience = 3\n",                 "tokens.audience",     "must be a string"},
  {"HostSshIsString",     "[hosts.kvm1]\nuri = \"qemu:///system\"\nssh = \"yes\"\n",
                                                                      "hosts.kvm1.ssh",      "must be true or false"},
  {"PortZero",            "[gateway]\nport = 0\n",                    "gateway.port",        "must be between 1 and 65535, got 0"},
  {"LinkRootRelative",    "[gateway]\nstatic_link_roots = [\"js\"]\n",
                                                                      "gateway.static_link_roots", "\"js\" is not an absolute path"},
  {"PortTooBig",          "[gateway]\nport = 70000\n",                "gateway.port",        "must be between 1 and 65535, got 70000"},
  {"PortNegative",        "[gateway]\nport = -1\n",                   "gateway.port",        "got -1"},
  {"ThreadsTooMany",      "[gateway]\nthreads = 100000\n",            "gateway.threads",     "must be between 0 and 256"},
  {"LibvirtThreadsZero",  "[gateway]\nlibvirt_threads = 0\n",        "gateway.libvirt_threads", "must be between 1 and 64"},
  {"SshPortZero",         "[hosts.kvm1]\nuri = \"qemu+ssh://kvm1/system\"\nssh_port = 0\n",
                                                                      "hosts.kvm1.ssh_port", "must be between 1 and 65535"},
  {"DurationWords",       "[gateway]\nping_interval = \"30 seconds\"\n", "gateway.ping_interval", "must be a duration"},
  {"DurationDays",        "[gateway]\nlibvirt_timeout = \"1d\"\n",    "gateway.libvirt_timeout", "must be a duration"},
  {"DurationNegative",    "[gateway]\nconnect_timeout = -5\n",        "gateway.connect_timeout", "must be a duration"},
  {"DurationBool",        "[gateway]\nconnect_timeout = true\n",      "gateway.connect_timeout", "must be a duration"},
  {"MaxTtlBad",           "[tokens]\nmax_ttl = \"ten minutes\"\n",    "tokens.max_ttl",      "must be a duration"},
  {"MaxTtlZero",          "[tokens]\nmax_ttl = \"0s\"\n",             "tokens.max_ttl",      "at least 1s"},
  {"ReplayStoreNotRedis", "[tokens]\nreplay_store = \"memcached://:pw@h\"\n", "tokens.replay_store", "must be \"redis://[[user]:password@]host[:port][/db]\" or"},
  {"ReplayStoreBadPort",  "[tokens]\nreplay_store = \"redis://h:0\"\n",   "tokens.replay_store", "must be \"redis://"},
  {"ReplayTimeoutZero",   "[tokens]\nreplay_store_timeout = \"0s\"\n",    "tokens.replay_store_timeout", "must be more than 0"},
  {"TokensModeBad",       "[tokens]\nmode = \"hmac\"\n",              "tokens.mode",         "must be \"jwt\" or \"plain\", got \"hmac\""},
  {"HostIdWithDash",      "[hosts.kvm-1]\nuri = \"qemu:///system\"\n", "hosts.kvm-1",        "letters, digits and '_'"},
  {"HostIdWithDot",       "[hosts.\"kvm.1\"]\nuri = \"qemu:///system\"\n", "hosts.kvm.1",    "letters, digits and '_'"},
  {"HostMissingUri",      "[hosts.kvm1]\naddress = \"198.51.100.7\"\n", "hosts.kvm1.uri",   "is required"},
  {"HostBadUri",          "[hosts.kvm1]\nuri = \"kvm1.example.com\"\n", "hosts.kvm1.uri",   "is not a libvirt URI: \"kvm1.example.com\""},
  {"HostUriNotString",    "[hosts.kvm1]\nuri = 1\n",                  "hosts.kvm1.uri",      "must be a string"},
  {"ConsoleViaInvalid",   "[hosts.kvm1]\nuri = \"qemu+ssh://kvm1/system\"\nconsole_via = \"tunnel\"\n",
                                                                      "hosts.kvm1.console_via", "must be \"ssh\" or \"direct\", got \"tunnel\""},
  // Checked once the whole file is read (finish_config).
  {"ConsoleViaSshWithoutSsh", "[hosts.kvm2]\nuri = \"qemu+tls://kvm2/system\"\nconsole_via = \"ssh\"\n",
                                                                      "hosts.kvm2.console_via", "needs ssh = true"},
  {"VncSecurityInvalid",  "[hosts.kvm1]\nuri = \"qemu:///system\"\nvnc_security = \"none\"\n",
                                                                      "hosts.kvm1.vnc_security", "must be \"gateway\" or \"passthrough\", got \"none\""},
  {"PasswordWithPassthrough", "[hosts.kvm1]\nuri = \"qemu:///system\"\nvnc_security = \"passthrough\"\nvnc_password_from_libvirt = true\n",
                                                                      "hosts.kvm1.vnc_password_from_libvirt", "needs vnc_security = \"gateway\""},
  {"TwoPasswordSources",  "[hosts.kvm1]\nuri = \"qemu:///system\"\nvnc_password_from_libvirt = true\nvnc_password_file = \"/x\"\n",
                                                                      "hosts.kvm1.vnc_password_file", "given with vnc_password_from_libvirt"},
  {"ConsoleCertWithoutCa", "[hosts.kvm1]\nuri = \"qemu:///system\"\nconsole_cert = \"/c.pem\"\nconsole_key = \"/k.pem\"\n",
                                                                      "hosts.kvm1.console_cert", "needs console_ca"},
  {"ConsoleKeyWithoutCert", "[hosts.kvm1]\nuri = \"qemu:///system\"\nconsole_ca = \"/ca.pem\"\nconsole_key = \"/k.pem\"\n",
                                                                      "hosts.kvm1.console_key", "go together"},
  {"KeyWithoutCert",      "[gateway]\nkey = \"/etc/console-gw/key.pem\"\n", "gateway.key",  "without gateway.cert"},
  {"SslOnlyWithoutCert",  "[gateway]\nssl_only = true\n",             "gateway.ssl_only",    "needs gateway.cert"},
  {"UnknownLimitsKey",    "[limits]\nmax_consoles = 5\n",             "limits.max_consoles", "unknown key"},
  {"LimitsNotATable",     "limits = 5\n",                              "limits",              "must be a table"},
  {"HandshakeTimeoutTiny", "[limits]\nhandshake_timeout = \"10ms\"\n", "limits.handshake_timeout", "at least 100ms"},
  {"HandshakeTimeoutBad", "[limits]\nhandshake_timeout = \"soon\"\n", "limits.handshake_timeout", "must be a duration"},
  {"HeaderBytesTiny",     "[limits]\nmax_header_bytes = 10\n",        "limits.max_header_bytes", "must be between 1024 and 1048576, got 10"},
  {"MessageBytesString",  "[limits]\nmax_message_bytes = \"4MiB\"\n", "limits.max_message_bytes", "must be an integer"},
  {"MaxSessionsZero",     "[limits]\nmax_sessions = 0\n",             "limits.max_sessions", "must be between 1 and"},
  {"PerClientNegative",   "[limits]\nmax_sessions_per_client = -1\n", "limits.max_sessions_per_client", "got -1"},
  {"MaxHandshakesZero",   "[limits]\nmax_handshakes = 0\n",           "limits.max_handshakes", "must be between 1 and"},
  {"BurstZero",           "[limits]\nhandshake_burst = 0\n",          "limits.handshake_burst", "must be between 1 and"},
  {"IdleTimeoutBad",      "[limits]\nidle_timeout = \"forever\"\n",   "limits.idle_timeout", "must be a duration"},
  {"SessionLengthBad",    "[limits]\nmax_session_length = true\n",    "limits.max_session_length", "must be a duration"},
};
// clang-format on

class ConfigErrorTable : public testing::TestWithParam<ErrorRow> {};

TEST_P(ConfigErrorTable, NamesFileKeyAndProblem) {
  const ErrorRow& row = GetParam();
  TempDir dir;
  const std::string path = dir.write("console-gw.toml", row.toml);
  const std::string error = config_error(path);
  ASSERT_FALSE(error.empty()) << "accepted:\n" << row.toml;
  // "FILE: key: problem", on one line.
  EXPECT_TRUE(error.starts_with(path + ": ")) << error;
  EXPECT_NE(error.find(std::string(row.key) + ": "), std::string::npos) << error;
  EXPECT_NE(error.find(row.problem), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Files, ConfigErrorTable, testing::ValuesIn(error_rows),
                         [](const testing::TestParamInfo<ErrorRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

TEST(ConfigFile, SyntaxErrorNamesFileLineAndColumn) {
  TempDir dir;
  const std::string path = dir.write("console-gw.toml",
                                     "# console-gw\n"
                                     "[gateway]\n"
                                     "port = = 6080\n");
  const std::string error = config_error(path);
  // FILE:LINE:COL: description
  const std::string prefix = path + ":3:";
  ASSERT_TRUE(error.starts_with(prefix)) << error;
  const std::string_view rest = std::string_view(error).substr(prefix.size());
  const auto colon = rest.find(": ");
  ASSERT_NE(colon, std::string_view::npos) << error;
  ASSERT_GT(colon, 0u) << error;
  EXPECT_TRUE(std::all_of(rest.begin(), rest.begin() + static_cast<long>(colon), [](char c) {
    return c >= '0' && c <= '9';
  })) << error;
  EXPECT_GT(rest.size(), colon + 2) << "no description: " << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(ConfigFile, DuplicateKeyIsASyntaxError) {
  TempDir dir;
  const std::string path = dir.write("dup.toml", "[gateway]\nport = 1\nport = 2\n");
  const std::string error = config_error(path);
  EXPECT_TRUE(error.starts_with(path + ":3:")) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

TEST(ConfigFile, MissingFileNamesTheFile) {
  TempDir dir;
  const std::string path = (dir.dir() / "absent.toml").string();
  const std::string error = config_error(path);
  EXPECT_TRUE(error.starts_with(path + ":")) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// The text seam (fuzz/config_fuzz.cpp uses it): the origin stands for the file.
TEST(ConfigText, ReadsLikeAFileAndNamesTheOrigin) {
  Config config = load_config_text("[gateway]\nport = 7000\n", "inline.toml");
  EXPECT_EQ(config.file, "inline.toml");
  EXPECT_EQ(config.port, 7000);
  try {
    load_config_text("[gateway]\nport = = 1\n", "inline.toml");
    ADD_FAILURE() << "a syntax error was accepted";
  } catch (const ConfigError& error) {
    EXPECT_TRUE(std::string_view(error.what()).starts_with("inline.toml:2:")) << error.what();
  }
}

// Found by fuzz/config_fuzz.cpp: toml++ quotes the character it stopped at, a
// newline too, and a quoted key may hold escapes; the message stays one line.
TEST(ConfigText, ControlCharactersInMessagesAreEscaped) {
  const auto error_of = [](std::string_view text) -> std::string {
    try {
      Config config = load_config_text(text, "fuzz.toml");
      finish_config(config);
    } catch (const ConfigError& error) {
      return error.what();
    }
    return {};
  };
  const std::string syntax = error_of("[gateway]\nssl_only = t\nue\n");
  EXPECT_TRUE(syntax.starts_with("fuzz.toml:2:")) << syntax;
  EXPECT_NE(syntax.find("\\n"), std::string::npos) << syntax;
  const std::string key = error_of("[gateway]\n\"a\\nb\\u0001\" = 1\n");
  EXPECT_EQ(key, "fuzz.toml: gateway.a\\nb\\x01: unknown key");
  for (const std::string& message : {syntax, key}) {
    EXPECT_TRUE(std::none_of(message.begin(), message.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20;
    })) << message;
  }
}

TEST(ConfigFile, EmptyFileGivesDefaultsAndTheLocalHost) {
  TempDir dir;
  const std::string path = dir.write("empty.toml", "");
  Config config = load_config_file(path);
  EXPECT_EQ(config.file, path);
  EXPECT_TRUE(config.hosts.empty());
  finish_config(config);
  EXPECT_EQ(config.listen, "0.0.0.0");
  EXPECT_EQ(config.port, 6080);
  EXPECT_EQ(config.token_mode, TokenMode::jwt);
  EXPECT_EQ(config.max_ttl, 600s);
  ASSERT_EQ(config.hosts.size(), 1u);
  EXPECT_EQ(config.hosts[0].id, "local");
  EXPECT_EQ(config.hosts[0].uri, "qemu:///system");
  EXPECT_FALSE(config.hosts[0].ssh);
}

TEST(ConfigFile, EveryKeyRead) {
  TempDir dir;
  const std::string path = dir.write("console-gw.toml", R"(# every key of every section
[gateway]
listen = "::"
port = 8443
public_host = "console.example.com:8443"
cert = "/etc/console-gw/cert.pem"
key = "/etc/console-gw/key.pem"
web = "/usr/share/novnc"
allowed_origins = ["https://ui.example.com", "https://admin.example.com:8443"]
static_link_roots = ["/usr/share/javascript", "/opt/js"]
ssl_only = true
threads = 4
ping_interval = "45s"
libvirt_timeout = "2500ms"
libvirt_threads = 8
connect_timeout = 3
log_level = "debug"

[tokens]
mode = "plain"
key_file = "/etc/console-gw/tokens.txt"
audience = "console-gw"
max_ttl = "10m"

[hosts.kvm1]
uri = "qemu+ssh://root@kvm1.example.com:2222/system"
address = "198.51.100.7"
ssh = true
ssh_user = "cgw"
ssh_port = 2200
ssh_key = "/etc/console-gw/id_ed25519"
ssh_agent = false
known_hosts = "/etc/console-gw/known_hosts"
console_via = "ssh"
vnc_password_file = "/etc/console-gw/kvm1.vncpass"
console_ca = "/etc/console-gw/pki/ca-cert.pem"
console_cert = "/etc/console-gw/pki/client-cert.pem"
console_key = "/etc/console-gw/pki/client-key.pem"
console_tls_name = "kvm1.example.com"

[hosts.Local_2]
uri = "qemu:///system"
ssh_agent = true
console_via = "direct"
vnc_security = "passthrough"
)");
  Config config = load_config_file(path);
  finish_config(config);

  EXPECT_EQ(config.file, path);
  EXPECT_EQ(config.listen, "::");
  EXPECT_EQ(config.port, 8443);
  EXPECT_EQ(config.public_host, "console.example.com:8443");
  EXPECT_EQ(config.cert, "/etc/console-gw/cert.pem");
  EXPECT_EQ(config.static_link_roots,
            (std::vector<std::string>{"/usr/share/javascript", "/opt/js"}));
  EXPECT_EQ(config.key, "/etc/console-gw/key.pem");
  EXPECT_EQ(config.web, "/usr/share/novnc");
  EXPECT_EQ(config.allowed_origins,
            (std::vector<std::string>{"https://ui.example.com", "https://admin.example.com:8443"}));
  EXPECT_TRUE(config.ssl_only);
  EXPECT_EQ(config.threads, 4u);
  EXPECT_EQ(config.ping_interval, 45s);
  EXPECT_EQ(config.libvirt_timeout, 2500ms);
  EXPECT_EQ(config.libvirt_threads, 8u);
  EXPECT_EQ(config.connect_timeout, 3s);
  EXPECT_EQ(config.log_level, "debug");

  EXPECT_EQ(config.token_mode, TokenMode::plain);
  EXPECT_EQ(config.token_key_file, "/etc/console-gw/tokens.txt");
  EXPECT_EQ(config.audience, std::optional<std::string>("console-gw"));
  EXPECT_EQ(config.max_ttl, 600s);

  ASSERT_EQ(config.hosts.size(), 2u);
  const HostConfig* kvm1 = find_host(config, "kvm1");
  ASSERT_NE(kvm1, nullptr);
  EXPECT_EQ(kvm1->uri, "qemu+ssh://root@kvm1.example.com:2222/system");
  EXPECT_EQ(kvm1->address, "198.51.100.7");
  EXPECT_TRUE(kvm1->ssh);
  EXPECT_EQ(kvm1->ssh_user, "cgw");
  EXPECT_EQ(kvm1->ssh_port, 2200);
  EXPECT_EQ(kvm1->ssh_key, "/etc/console-gw/id_ed25519");
  EXPECT_FALSE(kvm1->ssh_agent);
  EXPECT_EQ(kvm1->known_hosts, "/etc/console-gw/known_hosts");
  EXPECT_TRUE(kvm1->console_via_ssh);
  EXPECT_TRUE(kvm1->vnc_security_gateway);
  EXPECT_FALSE(kvm1->vnc_password_from_libvirt);
  EXPECT_EQ(kvm1->vnc_password_file, "/etc/console-gw/kvm1.vncpass");
  EXPECT_EQ(kvm1->console_ca, "/etc/console-gw/pki/ca-cert.pem");
  EXPECT_EQ(kvm1->console_cert, "/etc/console-gw/pki/client-cert.pem");
  EXPECT_EQ(kvm1->console_key, "/etc/console-gw/pki/client-key.pem");
  EXPECT_EQ(kvm1->console_tls_name, "kvm1.example.com");
  const HostConfig* local = find_host(config, "Local_2");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->uri, "qemu:///system");
  EXPECT_EQ(local->address, "");
  EXPECT_FALSE(local->ssh);
  EXPECT_TRUE(local->ssh_agent);
  EXPECT_FALSE(local->console_via_ssh);
  EXPECT_FALSE(local->vnc_security_gateway);
}

TEST(ConfigFile, DurationsAsBareSecondsAndUnits) {
  TempDir dir;
  const std::string path = dir.write("d.toml",
                                     "[gateway]\nping_interval = 10\nlibvirt_timeout = \"1m\"\n"
                                     "connect_timeout = \"750ms\"\nwrite_timeout = \"2s\"\n"
                                     "[tokens]\nmax_ttl = \"1h\"\n");
  Config config = load_config_file(path);
  EXPECT_EQ(config.write_timeout, 2s);
  EXPECT_EQ(config.ping_interval, 10s);
  EXPECT_EQ(config.libvirt_timeout, 60s);
  EXPECT_EQ(config.connect_timeout, 750ms);
  EXPECT_EQ(config.max_ttl, 3600s);
}

TEST(ConfigFile, LimitsHaveSafeDefaults) {
  const Config c = load_config_text("", "defaults.toml");
  EXPECT_EQ(c.limits.handshake_timeout, 10s);
  EXPECT_EQ(c.limits.max_header_bytes, 16u * 1024);
  EXPECT_EQ(c.limits.max_message_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.limits.max_sessions, 8000u);
  EXPECT_EQ(c.limits.max_sessions_per_client, 100u);
  EXPECT_EQ(c.limits.max_handshakes, 2000u);
  EXPECT_EQ(c.limits.max_handshakes_per_peer, 50u);
  EXPECT_EQ(c.limits.handshake_rate, 20u);
  EXPECT_EQ(c.limits.handshake_burst, 40u);
  EXPECT_EQ(c.limits.idle_timeout, 0ms);
  EXPECT_EQ(c.limits.max_session_length, 0ms);
  // Two descriptors per console, and the handshakes: within the unit's 20000.
  EXPECT_LE(2 * c.limits.max_sessions + c.limits.max_handshakes, 20000u);
}

TEST(ConfigFile, EveryLimitsKeyRead) {
  const Config c = load_config_text(R"([limits]
handshake_timeout = "3s"
max_header_bytes = 8192
max_message_bytes = 65536
max_sessions = 500
max_sessions_per_client = 0
max_handshakes = 300
max_handshakes_per_peer = 7
handshake_rate = 5
handshake_burst = 9
idle_timeout = "15m"
max_session_length = "8h"
)",
                                    "limits.toml");
  EXPECT_EQ(c.limits.handshake_timeout, 3s);
  EXPECT_EQ(c.limits.max_header_bytes, 8192u);
  EXPECT_EQ(c.limits.max_message_bytes, 65536u);
  EXPECT_EQ(c.limits.max_sessions, 500u);
  EXPECT_EQ(c.limits.max_sessions_per_client, 0u);
  EXPECT_EQ(c.limits.max_handshakes, 300u);
  EXPECT_EQ(c.limits.max_handshakes_per_peer, 7u);
  EXPECT_EQ(c.limits.handshake_rate, 5u);
  EXPECT_EQ(c.limits.handshake_burst, 9u);
  EXPECT_EQ(c.limits.idle_timeout, 15min);
  EXPECT_EQ(c.limits.max_session_length, 8h);
}

TEST(ConfigFile, SshUriImpliesSsh) {
  TempDir dir;
  const std::string path = dir.write("ssh.toml",
                                     "[hosts.kvm1]\nuri = \"qemu+ssh://root@kvm1/system\"\n"
                                     "console_via = \"ssh\"\n"
                                     "[hosts.kvm2]\nuri = \"qemu+tls://kvm2/system\"\n");
  Config config = load_config_file(path);
  ASSERT_NE(find_host(config, "kvm1"), nullptr);
  EXPECT_FALSE(find_host(config, "kvm1")->ssh);  // not written in the file...
  finish_config(config);
  ASSERT_EQ(config.hosts.size(), 2u);
  EXPECT_TRUE(find_host(config, "kvm1")->ssh);  // ...implied by the URI
  EXPECT_TRUE(find_host(config, "kvm1")->console_via_ssh);
  EXPECT_FALSE(find_host(config, "kvm2")->ssh);
}

TEST(ConfigFile, ExplicitSshAllowsConsoleViaSsh) {
  TempDir dir;
  const std::string path = dir.write(
      "ssh.toml",
      "[hosts.kvm2]\nuri = \"qemu+tls://kvm2/system\"\nssh = true\nconsole_via = \"ssh\"\n");
  EXPECT_EQ(config_error(path), "");
}

TEST(ConfigFile, SampleConfigLoads) {
  const std::string sample = CGW_TEST_SAMPLE_CONFIG;
  if (!std::filesystem::exists(sample)) GTEST_SKIP() << "no sample configuration in etc/";
  EXPECT_EQ(config_error(sample), "");
}

// ---------------------------------------------------------------------------
// Regressions: bugs found by these tests, fixed since.

// A bare integer is seconds with the same range as "31622400s"; it used to
// overflow the conversion to milliseconds (9223372036854775807 loaded as -1000 ms).
TEST(ConfigFile, BareIntegerDurationsAreRangeChecked) {
  TempDir dir;
  const std::pair<std::string_view, std::string_view> keys[] = {
      {"gateway", "connect_timeout"}, {"gateway", "libvirt_timeout"}, {"gateway", "ping_interval"},
      {"gateway", "write_timeout"},   {"tokens", "max_ttl"},
  };
  for (const auto& [section, key] : keys) {
    for (std::string_view value : {"9223372036854775807", "31622401"}) {
      const std::string path = dir.write(std::string(key) + ".toml",
                                         "[" + std::string(section) + "]\n" + std::string(key) +
                                             " = " + std::string(value) + "\n");
      const std::string error = config_error(path);
      const std::string name = std::string(section) + "." + std::string(key);
      EXPECT_TRUE(error.starts_with(path + ": " + name + ": must be a duration"))
          << name << " = " << value << " gave: " << (error.empty() ? "accepted" : error);
    }
  }
}

// A directory given as the config file used to be read as an empty file, so
// `--config /etc/console-gw` silently ran on defaults.
TEST(ConfigFile, DirectoryAsConfigFileIsRefused) {
  TempDir dir;
  const std::string path = dir.dir().string();
  const std::string error = config_error(path);
  EXPECT_TRUE(error.starts_with(path + ": ")) << (error.empty() ? "accepted" : error);
}

// A log_level typo used to be accepted and log at debug level.
TEST(ConfigFile, LogLevelIsValidated) {
  TempDir dir;
  for (std::string_view ok : {"debug", "info", "warn", "error"}) {
    EXPECT_EQ(
        config_error(dir.write("ok.toml", "[gateway]\nlog_level = \"" + std::string(ok) + "\"\n")),
        "")
        << ok;
  }
  const std::string path = dir.write("bad.toml", "[gateway]\nlog_level = \"verbose\"\n");
  const std::string error = config_error(path);
  EXPECT_TRUE(error.starts_with(path + ": gateway.log_level: "))
      << (error.empty() ? "accepted" : error);
}

TEST(ConfigFile, LogFormatIsValidated) {
  TempDir dir;
  EXPECT_EQ(
      load_config_file(dir.write("json.toml", "[gateway]\nlog_format = \"json\"\n")).log_format,
      "json");
  EXPECT_EQ(Config{}.log_format, "text");
  const std::string path = dir.write("bad.toml", "[gateway]\nlog_format = \"logfmt\"\n");
  const std::string error = config_error(path);
  EXPECT_TRUE(error.starts_with(path + ": gateway.log_format: "))
      << (error.empty() ? "accepted" : error);
}

// /metrics names host IDs: loopback only unless the operator says otherwise.
TEST(ConfigFile, MetricsAllowDefaultsToLoopbackAndIsValidated) {
  TempDir dir;
  EXPECT_EQ(Config{}.metrics_allow, (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  const Config listed = load_config_file(
      dir.write("list.toml", "[gateway]\nmetrics_allow = [\"10.1.0.0/16\", \"::1\"]\n"));
  EXPECT_EQ(listed.metrics_allow, (std::vector<std::string>{"10.1.0.0/16", "::1"}));
  EXPECT_TRUE(load_config_file(dir.write("off.toml", "[gateway]\nmetrics_allow = []\n"))
                  .metrics_allow.empty());
  const std::string path = dir.write("bad.toml", "[gateway]\nmetrics_allow = [\"10.1.0.0/33\"]\n");
  const std::string error = config_error(path);
  EXPECT_TRUE(error.starts_with(path + ": gateway.metrics_allow: \"10.1.0.0/33\""))
      << (error.empty() ? "accepted" : error);
}

// ---------------------------------------------------------------------------

struct DurationRow {
  std::string_view text;
  std::optional<std::chrono::milliseconds> value;
};

void PrintTo(const DurationRow& row, std::ostream* os) { *os << '"' << row.text << '"'; }

class ParseDurationTable : public testing::TestWithParam<DurationRow> {};

TEST_P(ParseDurationTable, Row) { EXPECT_EQ(parse_duration(GetParam().text), GetParam().value); }

// clang-format off
const DurationRow duration_rows[] = {
  {"500ms", 500ms}, {"30s", 30s}, {"10m", 10min}, {"1h", 1h}, {"45", 45s},
  {"0", 0ms}, {"0s", 0ms}, {"8784h", 8784h},  // 366 days: the limit
  {"8785h", std::nullopt}, {"99999999999999999999s", std::nullopt},
  {"", std::nullopt}, {"s", std::nullopt}, {"ms", std::nullopt}, {"-1s", std::nullopt},
  {"+1s", std::nullopt}, {"1.5s", std::nullopt}, {"10 s", std::nullopt}, {" 10s", std::nullopt},
  {"10s ", std::nullopt}, {"10S", std::nullopt}, {"1d", std::nullopt}, {"1hh", std::nullopt},
  {"1h30m", std::nullopt}, {"abc", std::nullopt},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Texts, ParseDurationTable, testing::ValuesIn(duration_rows));

TEST(ValidHostId, LettersDigitsUnderscore) {
  for (std::string_view ok : {"local", "kvm1", "KVM_01", "_", "a"}) {
    EXPECT_TRUE(valid_host_id(ok)) << ok;
  }
  for (std::string_view bad : {"", "kvm-1", "kvm.1", "kvm 1", "kvm/1", "ü", "kvm1\n"}) {
    EXPECT_FALSE(valid_host_id(bad)) << bad;
  }
  EXPECT_TRUE(valid_host_id(std::string(64, 'a')));
  EXPECT_FALSE(valid_host_id(std::string(65, 'a')));
}

}  // namespace
}  // namespace cgw::gateway
