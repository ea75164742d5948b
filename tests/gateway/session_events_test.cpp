// The session log as the first listener of SessionEvents: the lines operators
// and the integration tests read, word for word, captured from real stderr.
#include "gateway/session_events.hpp"

#include "common/log.hpp"

#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

#include <boost/asio/error.hpp>
#include <boost/json.hpp>

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
            "uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6 path=-");
  EXPECT_EQ(SessionLogWriter::prefix(session("10.0.0.5", "127.0.0.1:40000")),
            "session=7 client=10.0.0.5 proxy=127.0.0.1:40000 host=kvm01 "
            "uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6 path=-");
  SessionInfo unknown;
  unknown.id = 1;
  unknown.client = unknown.peer = "?";
  EXPECT_EQ(SessionLogWriter::prefix(unknown), "session=1 client=? host=- uuid=- path=-");
}

// Refusals carry the time since the connection was accepted: "duration=<n>s".
std::string without_duration(const std::string& message) {
  const auto at = message.rfind(" duration=");
  if (at == std::string::npos || !message.ends_with("s")) return message + " [no duration]";
  return message.substr(0, at);
}

// A console that ended by itself: the line also says what the browser was told.
TEST(SessionLogWriter, EndedSaysWhatTheBrowserWasTold) {
  test::Scratch scratch;
  CapturedStderr captured(scratch.path("log"));
  SessionLogWriter writer;
  SessionInfo s = session("10.0.0.5:51234", "10.0.0.5:51234");
  s.path = "direct";
  SessionEnded end;
  end.ended_by = SessionEnded::Ender::console;
  end.cause = boost::asio::error::eof;
  end.reason = "console closed: the VM stopped";
  end.to_client = 5;
  end.duration = 2s;
  static_cast<SessionEvents&>(writer).ended(s, end);
  const auto lines = lines_of(captured.text());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(message_of(lines[0]),
            "session=7 client=10.0.0.5:51234 host=kvm01 uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6 "
            "path=direct outcome=ended by=console cause=\"" +
                boost::system::error_code(boost::asio::error::eof).message() +
                "\" reason=\"console closed: the VM stopped\" to_console=0 to_client=5 "
                "duration=2s");
}

TEST(SessionLogWriter, OneLinePerEvent) {
  test::Scratch scratch;
  CapturedStderr captured(scratch.path("log"));
  SessionLogWriter writer;
  SessionEvents& events = writer;
  SessionInfo s = session("10.0.0.5:51234", "10.0.0.5:51234");
  events.refused(s, Refused{Refusal::token_expired, "token expired", {}});
  s.path = "direct";
  events.refused(s, Refused{Refusal::console_unreachable, "console unreachable",
                            "connection refused (tcp 127.0.0.1:5900)"});
  s.path = "-";
  events.page_served(s, ConsoleKind::spice);
  s.path = "ssh";
  ConsoleOpened opened{"web1", ConsoleKind::vnc, "tcp 127.0.0.1:5901"};
  opened.setup = 12345us;
  events.connected(s, opened);
  SessionEnded end;
  end.ended_by = SessionEnded::Ender::console;
  end.cause = boost::asio::error::eof;
  end.to_console = 12;
  end.to_client = 3456;
  end.duration = 1500ms;
  events.ended(s, end);
  SessionLogWriter::connection_refused(session("10.0.0.6:1", "10.0.0.6:1"),
                                       "plain connection with ssl_only");

  const auto lines = lines_of(captured.text());
  ASSERT_EQ(lines.size(), 6u);
  const std::string who =
      "session=7 client=10.0.0.5:51234 host=kvm01 uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6 ";
  EXPECT_EQ(without_duration(message_of(lines[0])),
            who + "path=- outcome=refused code=4402 reason=\"token expired\"");
  EXPECT_EQ(without_duration(message_of(lines[1])),
            who +
                "path=direct outcome=refused code=4504 reason=\"console unreachable\" "
                "detail=\"connection refused (tcp 127.0.0.1:5900)\"");
  EXPECT_EQ(message_of(lines[2]), who + "path=- outcome=page console=spice");
  EXPECT_EQ(message_of(lines[3]), who +
                                      "path=ssh outcome=connected domain=\"web1\" console=vnc "
                                      "via=\"tcp 127.0.0.1:5901\" setup=0.012s");
  EXPECT_EQ(message_of(lines[4]), who + "path=ssh outcome=ended by=console cause=\"" +
                                      boost::system::error_code(boost::asio::error::eof).message() +
                                      "\" to_console=12 to_client=3456 duration=1.5s");
  EXPECT_EQ(without_duration(message_of(lines[5])),
            "session=7 client=10.0.0.6:1 host=kvm01 uuid=6dd411c6-8710-48b0-bea0-e273ebd176c6 "
            "path=- outcome=refused reason=\"plain connection with ssl_only\"");
  for (const std::string& line : lines) {
    EXPECT_NE(line.find(" info gateway: "), std::string::npos) << "level and component: " << line;
  }
}

// With --log-format json, each line is an object whose fields have their types.
TEST(SessionLogWriter, JsonLinesCarryTheFieldsAsKeys) {
  test::Scratch scratch;
  CapturedStderr captured(scratch.path("log"));
  log::set_format(log::Format::json);
  SessionLogWriter writer;
  SessionInfo s = session("10.0.0.5", "127.0.0.1:40000");
  s.path = "unix";
  ConsoleOpened opened{"web \"1\"", ConsoleKind::spice, "unix /run/x.sock"};
  opened.setup = 2ms;
  writer.connected(s, opened);
  SessionEnded end;
  end.cause = boost::asio::error::eof;
  end.to_console = 12;
  end.to_client = 3456;
  end.duration = 2500ms;
  writer.ended(s, end);
  writer.refused(s, Refused{Refusal::invalid_token, "bad signature", {}});
  log::set_format(log::Format::text);

  namespace json = boost::json;
  const auto lines = lines_of(captured.text());
  ASSERT_EQ(lines.size(), 3u);
  std::vector<json::object> objects;
  for (const std::string& line : lines) objects.push_back(json::parse(line).as_object());
  for (const json::object& o : objects) {
    EXPECT_EQ(o.at("level"), "info");
    EXPECT_EQ(o.at("component"), "gateway");
    EXPECT_EQ(o.at("session").to_number<std::uint64_t>(), 7u);
    EXPECT_EQ(o.at("client"), "10.0.0.5");
    EXPECT_EQ(o.at("proxy"), "127.0.0.1:40000");
    EXPECT_EQ(o.at("host"), "kvm01");
    EXPECT_EQ(o.at("uuid"), "6dd411c6-8710-48b0-bea0-e273ebd176c6");
    EXPECT_EQ(o.at("path"), "unix");
  }
  EXPECT_EQ(objects[0].at("msg"), "session started");
  EXPECT_EQ(objects[0].at("outcome"), "connected");
  EXPECT_EQ(objects[0].at("domain"), "web \"1\"");
  EXPECT_EQ(objects[0].at("console"), "spice");
  EXPECT_DOUBLE_EQ(objects[0].at("setup").to_number<double>(), 0.002);
  EXPECT_EQ(objects[1].at("msg"), "session ended");
  EXPECT_EQ(objects[1].at("outcome"), "ended");
  EXPECT_EQ(objects[1].at("by"), "client");
  EXPECT_EQ(objects[1].at("to_console").to_number<std::uint64_t>(), 12u);
  EXPECT_EQ(objects[1].at("to_client").to_number<std::uint64_t>(), 3456u);
  EXPECT_DOUBLE_EQ(objects[1].at("duration").to_number<double>(), 2.5);
  EXPECT_EQ(objects[2].at("msg"), "session refused");
  EXPECT_EQ(objects[2].at("outcome"), "refused");
  EXPECT_EQ(objects[2].at("code").to_number<int>(), 4401);
  EXPECT_EQ(objects[2].at("reason"), "bad signature");
  EXPECT_TRUE(objects[2].at("duration").is_number());
}

}  // namespace
}  // namespace cgw::gateway
