// The log's two formats, read back from a real file that standard error is
// pointed at: text lines as before, json lines that Boost.JSON parses.
#include "common/log.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cgw::log {
namespace {

namespace json = boost::json;

constexpr Logger logger{"test"};

// Standard error goes to a temporary file for the test's life; lines() reads it.
class CapturedStderr {
 public:
  CapturedStderr() {
    std::snprintf(path_, sizeof path_, "/tmp/cgw-log-test-XXXXXX");
    const int fd = ::mkstemp(path_);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::unlink(path_);
  }
  std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);) all.push_back(line);
    return all;
  }

 private:
  char path_[64];
  int saved_ = -1;
};

class LogFormat : public testing::Test {
 protected:
  void TearDown() override {
    set_format(Format::text);
    set_level(Level::info);
  }
};

std::string json_string(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(JsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(json_string("plain"), "\"plain\"");
  EXPECT_EQ(json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_string("line\nnext\r\t"), "\"line\\nnext\\r\\t\"");
  EXPECT_EQ(json_string(std::string_view("\x01\x1f\0", 3)), "\"\\u0001\\u001f\\u0000\"");
  EXPECT_EQ(json_string("/"), "\"/\"");
}

TEST(JsonString, KeepsUtf8AndReplacesWhatIsNot) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x96\xa5"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x96\xa5\"");
  EXPECT_EQ(json_string("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(json_string("\xc3"), "\"\\ufffd\"");                        // cut short
  EXPECT_EQ(json_string("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong '/'
  EXPECT_EQ(json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  // Whatever the bytes, Boost.JSON reads the result as a string.
  const std::string all_bytes = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
  }();
  EXPECT_TRUE(json::parse(json_string(all_bytes)).is_string());
}

TEST(LogFormats, ParseFormat) {
  Format f{};
  EXPECT_TRUE(parse_format("json", f));
  EXPECT_EQ(f, Format::json);
  EXPECT_TRUE(parse_format("text", f));
  EXPECT_EQ(f, Format::text);
  EXPECT_FALSE(parse_format("JSON", f));
  EXPECT_FALSE(parse_format("", f));
}

TEST_F(LogFormat, TextLinesAreUnchangedAndEventsAreKeyValuePairs) {
  CapturedStderr captured;
  logger.info("listening on ", "127.0.0.1", ":", 6080);
  logger.event(
      Level::info, "session ended",
      {number("session", 7), word("client", "10.0.0.5:51234"), word("empty", ""),
       quoted("cause", "End of \"file\"\n"), seconds("duration", 1.5), flag("view_only", true)});
  const auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0].ends_with("Z info test: listening on 127.0.0.1:6080")) << lines[0];
  EXPECT_TRUE(
      lines[1].ends_with(" info test: session=7 client=10.0.0.5:51234 empty=\"\" "
                         "cause=\"End of \\\"file\\\"\\n\" duration=1.5s view_only=true"))
      << lines[1];
}

TEST_F(LogFormat, JsonLinesAreObjectsWithTypedFields) {
  CapturedStderr captured;
  set_format(Format::json);
  logger.warn("a \"quoted\" message\twith a tab");
  logger.event(Level::info, "session ended",
               {number("session", 7), word("client", "[::1]:4000"), signed_number("delta", -3),
                quoted("cause", "eof"), seconds("duration", 0.25), real("ratio", 0.5),
                flag("view_only", false)});
  write_line(Level::error, "other", "plain write_line");
  const auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 3u);

  const json::object first = json::parse(lines[0]).as_object();
  EXPECT_EQ(first.at("level"), "warn");
  EXPECT_EQ(first.at("component"), "test");
  EXPECT_EQ(first.at("msg"), "a \"quoted\" message\twith a tab");
  const std::string ts(first.at("ts").as_string());
  ASSERT_EQ(ts.size(), 24u) << ts;  // 2026-01-02T03:04:05.678Z
  EXPECT_EQ(ts[10], 'T');
  EXPECT_EQ(ts.back(), 'Z');

  const json::object event = json::parse(lines[1]).as_object();
  EXPECT_EQ(event.at("msg"), "session ended");
  EXPECT_EQ(event.at("level"), "info");
  EXPECT_EQ(event.at("session").to_number<std::uint64_t>(), 7u);
  EXPECT_EQ(event.at("client"), "[::1]:4000");
  EXPECT_EQ(event.at("delta").as_int64(), -3);
  EXPECT_EQ(event.at("cause"), "eof");
  EXPECT_DOUBLE_EQ(event.at("duration").to_number<double>(), 0.25);
  EXPECT_DOUBLE_EQ(event.at("ratio").to_number<double>(), 0.5);
  EXPECT_EQ(event.at("view_only"), false);

  const json::object third = json::parse(lines[2]).as_object();
  EXPECT_EQ(third.at("component"), "other");
  EXPECT_EQ(third.at("level"), "error");
  EXPECT_EQ(third.at("msg"), "plain write_line");
}

TEST_F(LogFormat, DisabledLevelsWriteNothingInEitherFormat) {
  CapturedStderr captured;
  set_level(Level::warn);
  logger.info("hidden");
  logger.event(Level::info, "hidden", {number("n", 1)});
  set_format(Format::json);
  logger.debug("hidden");
  logger.event(Level::info, "hidden", {number("n", 1)});
  EXPECT_TRUE(captured.lines().empty());
}

}  // namespace
}  // namespace cgw::log
