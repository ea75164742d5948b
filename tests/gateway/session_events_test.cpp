// The session log as the first listener of SessionEvents: the lines operators
// and the integration tests read, word for word, captured from real stderr.
#include "gateway/session_events.hpp"

#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;

// Everything written to stderr while it lives goes to a file, read by text().
class CapturedStderr {
 public:
  explicit CapturedStderr(std::string path) : path_(std::move(path)) {
    saved_ = dup(STDERR_FILENO);
    const int fd = open(path_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~CapturedStderr() { restore(); }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  std::string text() {
    restore();
    std::ifstream in(path_);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    saved_ = -1;
  }
  std::string path_;
  int saved_ = -1;
};

SessionInfo session(std::string client, std::string peer) {
  SessionInfo s;
  s.id = 7;
  s.client = std::move(client);
  s.peer = std::move(peer);
  s.host_id = "kvm01";
  s.uuid = "6dd411c6-8710-48b0-bea0-e273ebd176c6";
  return s;
}

// The part of a line after the timestamp, level and component.
std::string message_of(const std::string& line) {
  const auto at = line.find("session=");
  return at == std::string::npos ? line : line.substr(at);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(SessionLogWriter, PrefixNamesTheProxyOnlyWhenThereIsOne) {
  EXPECT_EQ(SessionLogWriter::prefix(session("10.0.0.5:51234", "10.0.0.5:51234")),
            "session=7 client=10.0.0.5:51234 host=kvm01 "
            "uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6");
  EXPECT_EQ(SessionLogWriter::prefix(session("10.0.0.5", "127.0.0.1:40000")),
            "session=7 client=10.0.0.5 proxy=127.0.0.1:40000 host=kvm01 "
            "uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6");
  SessionInfo unknown;
  unknown.id = 1;
  unknown.client = unknown.peer = "?";
  EXPECT_EQ(SessionLogWriter::prefix(unknown), "session=1 client=? host=- uuid=-");
}

TEST(SessionLogWriter, OneLinePerEvent) {
  test::Scratch scratch;
  CapturedStderr captured(scratch.path("log"));
  SessionLogWriter writer;
  SessionEvents& events = writer;
  const SessionInfo s = session("10.0.0.5:51234", "10.0.0.5:51234");
  events.refused(s, Refused{Refusal::token_expired, "token expired", {}});
  events.refused(s, Refused{Refusal::console_unreachable, "console unreachable",
                            "connection refused (tcp 127.0.0.1:5900)"});
  events.page_served(s, ConsoleKind::spice);
  events.connected(s, ConsoleOpened{"web1", ConsoleKind::vnc, "tcp 127.0.0.1:5901"});
  SessionEnded end;
  end.ended_by = SessionEnded::Ender::console;
  end.cause = boost::asio::error::eof;
  end.to_console = 12;
  end.to_client = 3456;
  end.duration = 1500ms;
  events.ended(s, end);

  const auto lines = lines_of(captured.text());
  ASSERT_EQ(lines.size(), 5u);
  const std::string who =
      "session=7 client=10.0.0.5:51234 host=kvm01 uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6 ";
  EXPECT_EQ(message_of(lines[0]), who + "outcome=refused code=4402 reason=\"token expired\"");
  EXPECT_EQ(message_of(lines[1]), who +
                                      "outcome=refused code=4504 reason=\"console unreachable\" "
                                      "detail=\"connection refused (tcp 127.0.0.1:5900)\"");
  EXPECT_EQ(message_of(lines[2]), who + "outcome=page console=spice");
  EXPECT_EQ(message_of(lines[3]),
            who + "outcome=connected domain=\"web1\" console=vnc via=\"tcp 127.0.0.1:5901\"");
  EXPECT_EQ(message_of(lines[4]), who + "outcome=ended by=console cause=\"" +
                                      boost::system::error_code(boost::asio::error::eof).message() +
                                      "\" to_console=12 to_client=3456 duration=1.5s");
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" info gateway: "), std::string::npos) << "level and component: " << line;
  }
}

}  // namespace
}  // namespace cgw::gateway
