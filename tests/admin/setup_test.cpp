// `console-gw setup` run as an operator runs it: from an answers file, and
// interactively through a pseudo-terminal, into a --root tree that
// `console-gw check` then accepts. libvirt's test driver stands in for a
// hypervisor here; admin_integration_tests serves a real VM's console.
#include "admin_support.hpp"
#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <pty.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace cgw::admin::test {
namespace {

namespace fs = std::filesystem;
using cgw::test::Scratch;

unsigned mode_of(const std::string& path) {
  struct stat st {};
  ::stat(path.c_str(), &st);
  return st.st_mode & 07777;
}

std::string answers(std::uint16_t port, const std::string& extra = {}) {
  return "fqdn = \"gw1.example.test\"\nport = " + std::to_string(port) +
         "\ntls = \"self-signed\"\ntoken_key = \"generate\"\nsystemd = true\n" + extra +
         "[[hosts]]\nid = \"local\"\nuri = \"test:///default\"\n";
}

class SetupAnswers : public ::testing::Test {
 protected:
  Scratch dir;
  std::string root = dir.path("root");
  std::string file = dir.write("answers.toml", answers(6081));
  std::string config = root + "/etc/console-gw/console-gw.toml";
};

TEST_F(SetupAnswers, WritesAConfigThatCheckAccepts) {
  const Ran setup = console_gw({"setup", "--answers", file, "--root", root});
  ASSERT_EQ(setup.status, 0) << setup.output;
  // The transcript reads like the interactive run.
  EXPECT_NE(setup.output.find("Host fully qualified DNS name of this server ["), std::string::npos);
  EXPECT_NE(setup.output.find("Port for browser WebSocket connections [6080]: 6081"),
            std::string::npos);
  EXPECT_NE(setup.output.find("Testing libvirt at test:///default ... ok"), std::string::npos)
      << setup.output;
  EXPECT_NE(setup.output.find("console URL      https://gw1.example.test:6081/console?token="),
            std::string::npos);

  const std::string text = slurp(config);
  EXPECT_NE(text.find("port = 6081\npublic_host = \"gw1.example.test\"\n"), std::string::npos);
  EXPECT_NE(text.find("cert = \"/etc/console-gw/tls.crt\""), std::string::npos);
  EXPECT_NE(text.find("key_file = \"/etc/console-gw/token-public.pem\""), std::string::npos);
  EXPECT_NE(text.find("[hosts.local]\nuri = \"test:///default\""), std::string::npos);
  // Secrets only for their owners; the signing key is not the gateway's to keep.
  EXPECT_EQ(mode_of(root + "/etc/console-gw/tls.key"), 0640u);
  EXPECT_EQ(mode_of(root + "/etc/console-gw/management-ui/token-signing-key.pem"), 0600u);
  EXPECT_EQ(mode_of(root + "/etc/console-gw/token-public.pem"), 0644u);
  EXPECT_NE(slurp(root + "/etc/systemd/system/console-gw.service").find("Type=notify"),
            std::string::npos);
  EXPECT_EQ(
      fs::read_symlink(root + "/etc/systemd/system/multi-user.target.wants/console-gw.service"),
      "/etc/systemd/system/console-gw.service");

  const Ran check = sh(in_root(root, quote(CONSOLE_GW) + " check"));
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_NE(check.output.find(
                "ok    token key             /etc/console-gw/token-public.pem: EdDSA public key"),
            std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find(
                "ok    certificate           /etc/console-gw/tls.crt (/CN=gw1.example.test)"),
            std::string::npos)
      << check.output;
  EXPECT_NE(check.output.find("ok    host local libvirt    test:///default: libvirt"),
            std::string::npos)
      << check.output;
}

TEST_F(SetupAnswers, ASecondRunChangesNothing) {
  ASSERT_EQ(console_gw({"setup", "--answers", file, "--root", root}).status, 0);
  std::map<std::string, std::string> before;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) before[entry.path()] = slurp(entry.path());
  }
  const Ran again = console_gw({"setup", "--answers", file, "--root", root});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_EQ(again.output.find("  created"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("  updated"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("  unchanged  /etc/console-gw/console-gw.toml"), std::string::npos);
  EXPECT_NE(again.output.find("Keeping /etc/console-gw/tls.crt"), std::string::npos);
  std::map<std::string, std::string> after;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) after[entry.path()] = slurp(entry.path());
  }
  EXPECT_EQ(before, after);
}

TEST_F(SetupAnswers, KeysItDoesNotAskAboutSurviveARun) {
  ASSERT_EQ(console_gw({"setup", "--answers", file, "--root", root}).status, 0);
  std::string text = slurp(config);
  text.replace(text.find("[tokens]\n"), 9, "ping_interval = \"10s\"\n\n[tokens]\n");
  text += "vnc_password_from_libvirt = true\n";
  dir.write("root/etc/console-gw/console-gw.toml", text);
  const Ran again = console_gw({"setup", "--answers", file, "--root", root});
  ASSERT_EQ(again.status, 0) << again.output;
  const std::string kept = slurp(config);
  EXPECT_NE(kept.find("ping_interval = \"10s\""), std::string::npos) << kept;
  EXPECT_NE(kept.find("[hosts.local]\nuri = \"test:///default\"\nvnc_password_from_libvirt = true"),
            std::string::npos)
      << kept;
}

TEST_F(SetupAnswers, DryRunShowsTheChangesAndMakesNone) {
  const Ran dry = console_gw({"setup", "--answers", file, "--root", root, "--dry-run"});
  ASSERT_EQ(dry.status, 0) << dry.output;
  EXPECT_NE(dry.output.find("  create  /etc/console-gw/console-gw.toml"), std::string::npos);
  EXPECT_NE(dry.output.find("  create  /etc/console-gw/tls.key"), std::string::npos);
  EXPECT_NE(dry.output.find("Dry run: nothing was changed."), std::string::npos);
  EXPECT_FALSE(fs::exists(root));
}

TEST_F(SetupAnswers, AWrongAnswerIsOneLineNamingFileAndKey) {
  const std::string bad = dir.write("bad.toml", "fqdn = \"not a name\"\n");
  const Ran setup = console_gw({"setup", "--answers", bad, "--root", root});
  EXPECT_EQ(setup.status, 2);
  EXPECT_NE(setup.output.find("\nconsole-gw setup: " + bad +
                              ": fqdn: a DNS name has only letters, digits, '.' and '-'\n"),
            std::string::npos)
      << setup.output;
  EXPECT_FALSE(fs::exists(root + "/etc/console-gw/console-gw.toml"));
}

TEST_F(SetupAnswers, CsrModeWritesTheRequestAndAnInterimCertificate) {
  const std::string csr = dir.write("csr.toml",
                                    "fqdn = \"gw1.example.test\"\ntls = \"csr\"\n"
                                    "systemd = false\n[[hosts]]\nid = \"local\"\n"
                                    "uri = \"test:///default\"\n");
  const Ran setup = console_gw({"setup", "--answers", csr, "--root", root});
  ASSERT_EQ(setup.status, 0) << setup.output;
  cgw::test::run("openssl req -noout -verify -in " + root + "/etc/console-gw/tls.csr 2>/dev/null");
  // The CA's certificate will fit the same key: the interim one already does.
  cgw::test::run("cd " + root +
                 "/etc/console-gw && openssl x509 -noout -pubkey -in tls.crt > a && "
                 "openssl req -noout -pubkey -in tls.csr > b && cmp a b && rm a b");
  EXPECT_FALSE(fs::exists(root + "/etc/systemd/system/console-gw.service"));
}

// ---- interactive, through a pseudo-terminal ----------------------------------------

// Drives a program on a pty: waits for each prompt and types the answer.
class Terminal {
 public:
  explicit Terminal(const std::vector<std::string>& argv) {
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      std::vector<char*> args;
      for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (master_ >= 0) ::close(master_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  // Reads until `text` appears after what was already consumed; false on a timeout or EOF.
  bool expect(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      if (auto at = screen_.find(text, consumed_); at != std::string::npos) {
        consumed_ = at + text.size();
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buffer[4096];
      const ssize_t n = ::read(master_, buffer, sizeof buffer);
      if (n <= 0) return false;
      screen_.append(buffer, static_cast<std::size_t>(n));
    }
  }
  void type(const std::string& line) {
    const std::string text = line + "\r";
    ASSERT_EQ(::write(master_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  int wait() {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(master_, buffer, sizeof buffer)) > 0)
      screen_.append(buffer, static_cast<std::size_t>(n));
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& screen() const { return screen_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string screen_;
  std::size_t consumed_ = 0;
};

TEST(SetupInteractive, AnswersEachPromptOnATerminal) {
  Scratch dir;
  const std::string root = dir.path("root");
  Terminal term({CONSOLE_GW, "setup", "--root", root});
  struct Step {
    std::string prompt;
    std::string answer;
    bool type = true;  // false: only wait for the text
  };
  const Step script[] = {
      {"Host fully qualified DNS name of this server [", "", false},
      {"]: ", "gw-pty.example.test"},
      {"Port for browser WebSocket connections [6080]: ", "70000"},  // wrong: asked again
      {"a port is a number from 1 to 65535", "", false},
      {"Port for browser WebSocket connections [6080]: ", "6082"},
      {"(e.g. https://cloud.example.com, or none) [none]: ", "https://cloud.example.test"},
      {"(TLS ends at a proxy in front) [self-signed]: ", "none"},
      {"import the management UI's public key [generate]: ", ""},
      {"Hypervisor host ID (letters, digits and _; empty when done) [local]: ", ""},
      {"libvirt URI of host local [qemu:///system]: ", "test:///default"},
      {"Testing libvirt at test:///default ... ok", "", false},
      {"Hypervisor host ID (letters, digits and _; empty when done) []: ", ""},
      {"Install and enable the systemd unit console-gw.service? [Y/n]: ", "n"},
      {"Write this configuration and make these changes? [Y/n]: ", "y"},
  };
  for (const Step& step : script) {
    ASSERT_TRUE(term.expect(step.prompt)) << "no prompt \"" << step.prompt << "\"; the screen:\n"
                                          << term.screen();
    if (step.type) term.type(step.answer);
  }
  EXPECT_EQ(term.wait(), 0) << term.screen();
  EXPECT_NE(term.screen().find("console URL      http://gw-pty.example.test:6082/console?token="),
            std::string::npos)
      << term.screen();
  const std::string text = slurp(root + "/etc/console-gw/console-gw.toml");
  EXPECT_NE(text.find("port = 6082\npublic_host = \"gw-pty.example.test\"\n"
                      "allowed_origins = [\"https://cloud.example.test\"]\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("cert ="), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(root + "/etc/console-gw/token-public.pem"));
  EXPECT_FALSE(fs::exists(root + "/etc/systemd/system/console-gw.service"));
}

TEST(SetupInteractive, InputThatEndsEarlyPointsToAnswersFiles) {
  Scratch dir;
  const Ran setup = console_gw({"setup", "--root", dir.path("root")});
  EXPECT_EQ(setup.status, 2);
  EXPECT_NE(setup.output.find("console-gw setup: standard input ended before every question was "
                              "answered (for a run without a terminal, use --answers FILE)"),
            std::string::npos)
      << setup.output;
}

}  // namespace
}  // namespace cgw::admin::test
