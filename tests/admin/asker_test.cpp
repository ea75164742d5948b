// Where setup's answers come from: a terminal (defaults in brackets, wrong
// answers asked again) or an answers file (missing keys take the defaults,
// wrong ones are one line naming the file and the key).
#include "admin/asker.hpp"
#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace cgw::admin {
namespace {

std::string no_spaces(const std::string& a) {
  return a.find(' ') == std::string::npos ? std::string() : "no spaces, please";
}

TEST(TerminalAsker, EnterTakesTheDefaultAndWrongAnswersAreAskedAgain) {
  std::istringstream in("\nbad answer\ngood\nmaybe\nn\n");
  std::ostringstream out;
  auto ask = terminal_asker(in, out);
  EXPECT_EQ(ask->ask("a", "First", "one"), "one");
  EXPECT_EQ(ask->ask("b", "Second", "two", no_spaces), "good");
  EXPECT_FALSE(ask->confirm("c", "Sure?", true));
  EXPECT_EQ(out.str(),
            "First [one]: Second [two]:   no spaces, please\nSecond [two]: "
            "Sure? [Y/n]:   answer yes or no\nSure? [Y/n]: ");
  EXPECT_FALSE(ask->host_count());
}

TEST(TerminalAsker, InputThatEndsIsAnErrorNamingTheWayOut) {
  std::istringstream in("");
  std::ostringstream out;
  auto ask = terminal_asker(in, out);
  try {
    ask->ask("a", "First", "one");
    FAIL() << "no error";
  } catch (const SetupError& e) {
    EXPECT_NE(std::string(e.what()).find("--answers FILE"), std::string::npos) << e.what();
  }
}

TEST(AnswersAsker, ReadsKeysTablesAndHostsAndPrintsATranscript) {
  test::Scratch dir;
  const std::string file = dir.write("answers.toml", R"(fqdn = "gw1.example.test"
port = 6081
systemd = false
[[hosts]]
id = "kvm01"
[[hosts]]
id = "kvm02"
uri = "qemu+tls://kvm02/system"
)");
  std::ostringstream out;
  auto ask = answers_asker(file, out);
  EXPECT_EQ(ask->ask("fqdn", "Name", "localhost"), "gw1.example.test");
  EXPECT_EQ(ask->ask("port", "Port", "6080"), "6081");
  EXPECT_EQ(ask->ask("tls", "TLS", "self-signed"), "self-signed");
  EXPECT_FALSE(ask->confirm("systemd", "Unit?", true));
  EXPECT_TRUE(ask->confirm("firewall", "Firewall?", true));
  EXPECT_EQ(ask->host_count(), 2u);
  EXPECT_EQ(ask->ask("hosts.1.uri", "URI", "x"), "qemu+tls://kvm02/system");
  EXPECT_EQ(ask->ask("hosts.0.uri", "URI", "qemu+ssh://root@kvm01/system"),
            "qemu+ssh://root@kvm01/system");
  EXPECT_EQ(out.str(),
            "Name [localhost]: gw1.example.test\nPort [6080]: 6081\nTLS [self-signed]: "
            "self-signed\nUnit? [Y/n]: no\nFirewall? [Y/n]: yes\nURI [x]: "
            "qemu+tls://kvm02/system\nURI [qemu+ssh://root@kvm01/system]: "
            "qemu+ssh://root@kvm01/system\n");
}

TEST(AnswersAsker, AWrongAnswerNamesFileAndKey) {
  test::Scratch dir;
  const std::string file = dir.write("answers.toml", "fqdn = \"a b\"\nsystemd = 3\n");
  std::ostringstream out;
  auto ask = answers_asker(file, out);
  try {
    ask->ask("fqdn", "Name", "x", no_spaces);
    FAIL() << "no error";
  } catch (const SetupError& e) {
    EXPECT_EQ(std::string(e.what()), file + ": fqdn: no spaces, please");
  }
  try {
    ask->confirm("systemd", "Unit?", true);
    FAIL() << "no error";
  } catch (const SetupError& e) {
    EXPECT_EQ(std::string(e.what()), file + ": systemd: must be true or false");
  }
}

TEST(AnswersAsker, ABrokenFileIsOneLineWithItsPosition) {
  test::Scratch dir;
  const std::string file = dir.write("answers.toml", "fqdn = \n");
  std::ostringstream out;
  try {
    answers_asker(file, out);
    FAIL() << "no error";
  } catch (const SetupError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(file + ":1:", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace cgw::admin
