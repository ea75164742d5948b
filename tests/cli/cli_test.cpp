// The console-gw executable as an operator meets it.
#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

extern char** environ;

namespace cgw {
namespace {

using namespace std::chrono_literals;

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs console-gw to completion with the given arguments.
Outcome run_gw(const std::vector<std::string>& args) {
  test::Scratch scratch;
  std::string command = CONSOLE_GW;
  for (const auto& a : args) command += " '" + a + "'";
  command += " >" + scratch.path("out") + " 2>" + scratch.path("err");
  Outcome r;
  const int raw = std::system(command.c_str());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  auto slurp = [](const std::string& file) {
    std::string text;
    if (FILE* f = std::fopen(file.c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    return text;
  };
  r.out = slurp(scratch.path("out"));
  r.err = slurp(scratch.path("err"));
  return r;
}

int lines(const std::string& text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

TEST(ConsoleGwCli, VersionAndHelp) {
  const Outcome version = run_gw({"--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("console-gw ", 0), 0u);
  const Outcome help = run_gw({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--ws-port"), std::string::npos);
  EXPECT_NE(help.out.find("--public-host"), std::string::npos);
}

TEST(ConsoleGwCli, BadConfigKeyIsOneLineNamingFileAndKeyWithStatus2) {
  test::Scratch scratch;
  const std::string file = scratch.write("gw.toml", "[gateway]\nprot = 6080\n");
  const Outcome r = run_gw({"--config", file});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gateway.prot"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown key"), std::string::npos) << r.err;
}

TEST(ConsoleGwCli, BadValueIsOneLineWithStatus2) {
  test::Scratch scratch;
  const std::string file = scratch.write("gw.toml", "[tokens]\nmax_ttl = \"ten minutes\"\n");
  const Outcome r = run_gw({"--config", file});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("tokens.max_ttl"), std::string::npos) << r.err;
}

// The monitoring keys and flag: a wrong value is one line naming it, status 2.
TEST(ConsoleGwCli, BadLogFormatOrMetricsAllowIsOneLineWithStatus2) {
  test::Scratch scratch;
  const std::string file =
      scratch.write("gw.toml", "[gateway]\nmetrics_allow = [\"127.0.0.1\", \"localhost\"]\n");
  const Outcome allow = run_gw({"--config", file});
  EXPECT_EQ(allow.status, 2);
  EXPECT_EQ(lines(allow.err), 1) << allow.err;
  EXPECT_NE(allow.err.find(file + ": gateway.metrics_allow: \"localhost\""), std::string::npos)
      << allow.err;
  const Outcome format = run_gw({"--log-format", "xml"});
  EXPECT_EQ(format.status, 2);
  EXPECT_EQ(lines(format.err), 1) << format.err;
  EXPECT_NE(format.err.find("--log-format"), std::string::npos) << format.err;
}

TEST(ConsoleGwCli, MissingTokenKeyIsOneLineWithStatus2) {
  test::Scratch scratch;
  const std::string file =
      scratch.write("gw.toml", "[tokens]\nkey_file = \"" + scratch.path("absent.key") + "\"\n");
  const Outcome r = run_gw({"--config", file, "--listen", "127.0.0.1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("tokens.key_file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("absent.key"), std::string::npos) << r.err;
}

TEST(ConsoleGwCli, BadFlagIsOneLineWithStatus2) {
  const Outcome port = run_gw({"--ws-port", "seventy"});
  EXPECT_EQ(port.status, 2);
  EXPECT_EQ(lines(port.err), 1);
  EXPECT_NE(port.err.find("--ws-port"), std::string::npos) << port.err;
  const Outcome unknown = run_gw({"--frobnicate"});
  EXPECT_EQ(unknown.status, 2);
  EXPECT_NE(unknown.err.find("--frobnicate"), std::string::npos) << unknown.err;
}

TEST(ConsoleGwCli, TokenCommandMintsAVerifiableToken) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const Outcome r =
      run_gw({"token", "--host", "kvm01", "--uuid", "6DD411C6-8710-48B0-BEA0-E273EBD176C6",
              "--console", "spice", "--ttl", "2m", "--signing-key", secret});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string token_text = r.out;
  while (!token_text.empty() && token_text.back() == '\n') token_text.pop_back();
  const token::Verifier verifier(token::VerificationKey::load_file(secret), token::Policy{});
  const auto result = verifier.verify(token_text, std::chrono::system_clock::now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_EQ(result.claims->host_id, "kvm01");
  EXPECT_EQ(result.claims->uuid, "6dd411c6-8710-48b0-bea0-e273ebd176c6");
  EXPECT_EQ(result.claims->console, token::ConsoleKind::spice);
  const auto ttl = *result.claims->expires - std::chrono::system_clock::now();
  EXPECT_GT(ttl, 100s);
  EXPECT_LE(ttl, 120s);
  EXPECT_FALSE(result.claims->view_only);
}

TEST(ConsoleGwCli, TokenCommandMintsViewOnly) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const Outcome r =
      run_gw({"token", "--host", "kvm01", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
              "--view-only", "--signing-key", secret});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string token_text = r.out;
  while (!token_text.empty() && token_text.back() == '\n') token_text.pop_back();
  const token::Verifier verifier(token::VerificationKey::load_file(secret), token::Policy{});
  const auto result = verifier.verify(token_text, std::chrono::system_clock::now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_TRUE(result.claims->view_only);
}

TEST(ConsoleGwCli, TokenCommandMintsSerialWithDeviceAndForce) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const Outcome r =
      run_gw({"token", "--host", "kvm01", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
              "--console", "serial", "--device", "console1", "--force", "--signing-key", secret});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string token_text = r.out;
  while (!token_text.empty() && token_text.back() == '\n') token_text.pop_back();
  const token::Verifier verifier(token::VerificationKey::load_file(secret), token::Policy{});
  const auto result = verifier.verify(token_text, std::chrono::system_clock::now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_EQ(result.claims->console, token::ConsoleKind::serial);
  EXPECT_EQ(result.claims->device, "console1");
  EXPECT_TRUE(result.claims->force);

  // --device and --force belong to serial consoles; one line, status 2.
  const Outcome no_serial =
      run_gw({"token", "--host", "kvm01", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
              "--force", "--signing-key", secret});
  EXPECT_EQ(no_serial.status, 2);
  EXPECT_NE(no_serial.err.find("--force: needs --console serial"), std::string::npos)
      << no_serial.err;
  const Outcome bad_device =
      run_gw({"token", "--host", "kvm01", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
              "--console", "serial", "--device", "a/b", "--signing-key", secret});
  EXPECT_EQ(bad_device.status, 2);
  EXPECT_NE(bad_device.err.find("--device: must be a device alias"), std::string::npos)
      << bad_device.err;
}

TEST(ConsoleGwCli, TokenCommandMintsRecord) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const Outcome r =
      run_gw({"token", "--host", "kvm01", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
              "--record", "--signing-key", secret});
  ASSERT_EQ(r.status, 0) << r.err;
  const token::Verifier verifier(token::VerificationKey::load_file(secret), token::Policy{});
  const auto result =
      verifier.verify(r.out.substr(0, r.out.find('\n')), std::chrono::system_clock::now());
  ASSERT_TRUE(result) << result.rejection.reason;
  EXPECT_TRUE(result.claims->record);
}

// console-gw replay refuses what it cannot show with one line and status 2.
TEST(ConsoleGwCli, ReplayRefusesWhatIsNotAVncRecording) {
  test::Scratch scratch;
  const std::string text = scratch.write("notes.txt", "hello\n");
  Outcome r = run_gw({"replay", text});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "console-gw replay: " + text +
                       ": not a console-gw recording (its header is not one)\n");
  const std::string spice = scratch.write(
      "spice.cgwrec", R"({"format":"console-gw-recording","version":1,"console":"spice"})"
                      "\n");
  r = run_gw({"replay", spice});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "console-gw replay: " + spice +
                       ": a spice console's recording; replay shows VNC recordings only\n");
  r = run_gw({"replay", spice, "--speed", "-1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "console-gw: --speed: must be a number above 0 and at most 1000, got '-1'\n");
}

TEST(ConsoleGwCli, TokenCommandMintsOneTimeWithAFreshId) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const token::Verifier verifier(token::VerificationKey::load_file(secret), token::Policy{});
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    const Outcome r =
        run_gw({"token", "--host", "kvm01", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
                "--one-time", "--signing-key", secret});
    ASSERT_EQ(r.status, 0) << r.err;
    const auto result =
        verifier.verify(r.out.substr(0, r.out.find('\n')), std::chrono::system_clock::now());
    ASSERT_TRUE(result) << result.rejection.reason;
    ASSERT_TRUE(result.claims->jti);
    EXPECT_EQ(result.claims->jti->size(), 32u);
    EXPECT_EQ(result.claims->jti->find_first_not_of("0123456789abcdef"), std::string::npos);
    ids.push_back(*result.claims->jti);
  }
  EXPECT_NE(ids[0], ids[1]);
}

TEST(ConsoleGwCli, TokenCommandRefusesBadInput) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  EXPECT_EQ(run_gw({"token", "--host", "bad-id", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6",
                    "--signing-key", secret})
                .status,
            2);
  EXPECT_EQ(
      run_gw({"token", "--host", "h", "--uuid", "not-a-uuid", "--signing-key", secret}).status, 2);
  EXPECT_EQ(
      run_gw({"token", "--host", "h", "--uuid", "6dd411c6-8710-48b0-bea0-e273ebd176c6"}).status, 2);
}

// A loopback port nobody listens on at the time of the call (for console-gw to
// listen on: another process may take it before console-gw binds it).
std::uint16_t free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(
      ioc, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// A console-gw serving in the background on 127.0.0.1 (`args` plus --listen and
// --ws-port); stopped with SIGTERM. Its port was free just before it started; if
// another process took it in between, console-gw says so and exits, and it is
// started again on another port.
class Served {
 public:
  explicit Served(const std::vector<std::string>& args) {
    for (int attempt = 0; attempt < 5 && !listening_; ++attempt) {
      port_ = free_port();
      std::vector<std::string> all{CONSOLE_GW};
      all.insert(all.end(), args.begin(), args.end());
      all.insert(all.end(), {"--listen", "127.0.0.1", "--ws-port", std::to_string(port_)});
      start(all);
      listening_ = wait_until_listening();
      if (!listening_ && (!exited_ || log().find("in use") == std::string::npos)) break;
    }
  }
  ~Served() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool listening() const { return listening_; }
  std::uint16_t port() const { return port_; }
  // What console-gw wrote to its standard error.
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // Sends SIGTERM; returns the exit status, or -1 if it did not exit within `limit`.
  int terminate(std::chrono::milliseconds limit) {
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  void start(std::vector<std::string>& all) {
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    exited_ = false;
    if (posix_spawn(&pid_, CONSOLE_GW, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  // Until console-gw says it listens on port_ (so it is this process that
  // listens there, not another one), or exits, or 5 s have passed.
  bool wait_until_listening() {
    const std::string listening = "listening on 127.0.0.1:" + std::to_string(port_);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      if (log().find(listening) != std::string::npos) return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        exited_ = true;
        return false;
      }
      std::this_thread::sleep_for(25ms);
    }
    return false;
  }

  test::Scratch scratch_;
  std::string log_ = scratch_.path("console-gw.log");
  pid_t pid_ = -1;
  bool exited_ = false;
  bool listening_ = false;
  std::uint16_t port_ = 0;
};

TEST(ConsoleGwServe, SslOnlyRefusesPlainAndServesTls) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const auto [cert, key] = scratch.tls_certificate("gw");
  const std::string config =
      scratch.write("gw.toml", "[tokens]\nkey_file = \"" + secret +
                                   "\"\n[hosts.local]\nuri = \"test:///default\"\n");
  Served gw({"--config", config, "--cert", cert, "--key", key, "--ssl-only"});
  ASSERT_TRUE(gw.listening()) << gw.log();
  const std::uint16_t port = gw.port();
  const auto plain = test::http_get(port, "/healthz");
  EXPECT_EQ(plain.status, 403);
  EXPECT_NE(plain.body.find("TLS required"), std::string::npos);
  EXPECT_EQ(test::http_get(port, "/healthz", true).status, 200);
  EXPECT_EQ(gw.terminate(5s), 0) << "console-gw did not stop on SIGTERM";
}

TEST(ConsoleGwServe, StaticFilesWithoutTraversal) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  std::filesystem::create_directories(scratch.dir() / "web" / "app");
  scratch.write("web/vnc.html", "<html>novnc</html>");
  scratch.write("web/app/ui.js", "export {};");
  scratch.write("secret.txt", "do not serve");
  const std::string config =
      scratch.write("gw.toml", "[tokens]\nkey_file = \"" + secret +
                                   "\"\n[hosts.local]\nuri = \"test:///default\"\n");
  Served gw({"--config", config, "--web", scratch.path("web")});
  ASSERT_TRUE(gw.listening()) << gw.log();
  const std::uint16_t port = gw.port();
  EXPECT_EQ(test::http_get(port, "/vnc.html").body, "<html>novnc</html>");
  EXPECT_EQ(test::http_get(port, "/app/ui.js").status, 200);
  EXPECT_EQ(test::http_get(port, "/app/").status, 404);  // no listings
  EXPECT_EQ(test::http_get(port, "/../secret.txt").status, 404);
  EXPECT_EQ(test::http_get(port, "/app/%2e%2e/%2e%2e/secret.txt").status, 404);
  EXPECT_EQ(test::http_get(port, "/nope.html").status, 404);
  EXPECT_EQ(gw.terminate(5s), 0);
}

}  // namespace
}  // namespace cgw

namespace cgw {
namespace {

// Debian's sslscan against a real wss:// listener: only TLS 1.2 and 1.3, every
// suite forward-secret (ECDHE, or TLS 1.3's own) and AEAD (AES-GCM or
// ChaCha20-Poly1305) with at least 128 bits, no renegotiation, no compression,
// not vulnerable to heartbleed.
TEST(ConsoleGwServe, TlsScanFindsNoWeakProtocolOrCipher) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const auto [cert, key] = scratch.tls_certificate("gw");
  const std::string config =
      scratch.write("gw.toml", "[tokens]\nkey_file = \"" + secret +
                                   "\"\n[hosts.local]\nuri = \"test:///default\"\n");
  Served gw({"--config", config, "--cert", cert, "--key", key});
  ASSERT_TRUE(gw.listening()) << gw.log();
  const std::string report = scratch.path("scan.xml");
  test::run(std::string(CGW_TEST_SSLSCAN) + " --no-colour --xml=" + report +
            " 127.0.0.1:" + std::to_string(gw.port()) + " > " + scratch.path("scan.txt"));

  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_file(report.c_str())) << report;
  const pugi::xml_node scan = doc.child("document").child("ssltest");
  ASSERT_TRUE(scan) << report;
  std::map<std::string, bool> protocols;
  for (const pugi::xml_node p : scan.children("protocol")) {
    protocols[std::string(p.attribute("type").value()) + p.attribute("version").value()] =
        p.attribute("enabled").as_int() == 1;
  }
  EXPECT_EQ(protocols, (std::map<std::string, bool>{{"ssl2", false},
                                                    {"ssl3", false},
                                                    {"tls1.0", false},
                                                    {"tls1.1", false},
                                                    {"tls1.2", true},
                                                    {"tls1.3", true}}));
  int suites = 0;
  for (const pugi::xml_node c : scan.children("cipher")) {
    ++suites;
    const std::string version = c.attribute("sslversion").value();
    const std::string name = c.attribute("cipher").value();
    EXPECT_TRUE(version == "TLSv1.2" || version == "TLSv1.3") << version << " " << name;
    if (version == "TLSv1.2") {
      EXPECT_EQ(name.rfind("ECDHE-", 0), 0u) << name;
    }
    EXPECT_TRUE(name.find("GCM") != std::string::npos ||
                name.find("CHACHA20-POLY1305") != std::string::npos ||
                name.find("CHACHA20_POLY1305") != std::string::npos)
        << name;
    EXPECT_GE(c.attribute("bits").as_int(), 128) << name;
    const std::string strength = c.attribute("strength").value();
    EXPECT_TRUE(strength == "strong" || strength == "acceptable") << name << ": " << strength;
  }
  EXPECT_GE(suites, 4);
  EXPECT_EQ(scan.child("renegotiation").attribute("supported").as_int(), 0);
  for (const pugi::xml_node c : scan.children("compression")) {
    EXPECT_EQ(c.attribute("supported").as_int(), 0);
  }
  for (const pugi::xml_node h : scan.children("heartbleed")) {
    EXPECT_EQ(h.attribute("vulnerable").as_int(), 0) << h.attribute("sslversion").value();
  }
}

}  // namespace
}  // namespace cgw

namespace cgw {
namespace {

// Out of descriptors (EMFILE) the accept loop logs, backs off and goes on: with
// its limit at 64, a crowd of idle connections exhausts it; once they go, the
// gateway serves again, and the failure was one log line, not one per retry.
TEST(ConsoleGwServe, AcceptSurvivesRunningOutOfDescriptors) {
  test::Scratch scratch;
  const std::string secret = scratch.hs256_secret("token.key");
  const std::string config =
      scratch.write("gw.toml", "[tokens]\nkey_file = \"" + secret +
                                   "\"\n[hosts.local]\nuri = \"test:///default\"\n"
                                   // The crowd is one peer: let it hold every descriptor.
                                   "[limits]\nmax_handshakes_per_peer = 0\n");
  const std::uint16_t port = test::free_port();
  const std::string log = scratch.path("gw.log");
  const pid_t pid =
      test::spawn({"/usr/bin/prlimit", "--nofile=64:64", "--", CONSOLE_GW, "--config", config,
                   "--listen", "127.0.0.1", "--ws-port", std::to_string(port)},
                  log);
  auto log_text = [&] {
    std::ifstream in(log);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  };
  auto wait_for = [&](const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (log_text().find(text) == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    return log_text().find(text) != std::string::npos;
  };
  ASSERT_TRUE(wait_for("listening on 127.0.0.1:" + std::to_string(port))) << log_text();

  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> crowd;
  for (int i = 0; i < 100; ++i) {
    crowd.emplace_back(io);
    boost::system::error_code ec;
    crowd.back().connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    ASSERT_FALSE(ec) << i << ": " << ec.message();
  }
  ASSERT_TRUE(wait_for("accept failed: Too many open files (1 time so far)")) << log_text();
  std::this_thread::sleep_for(1s);  // ten retries
  crowd.clear();

  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    try {
      status = test::http_get(port, "/healthz").status;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  EXPECT_EQ(status, 200) << log_text();
  EXPECT_TRUE(wait_for("accepting again after ")) << log_text();
  const std::string text = log_text();
  std::size_t lines = 0;
  for (auto at = text.find("accept failed"); at != std::string::npos;
       at = text.find("accept failed", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << text;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace cgw
