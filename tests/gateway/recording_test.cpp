// Recording's parts on real files and the real writer thread: the [recording]
// configuration and the command line that reach it, the file's name, header
// and frames as `console-gw replay` reads them, and the recording stopping
// (never the console) at max_bytes, when the writer falls behind, or when the
// file cannot be made. The whole path through a real VM's console is in
// tests/integration/recording_test.cpp and tests/browser/recording.test.js.
#include "gateway/recording.hpp"
#include "gateway/cli.hpp"
#include "gateway/config.hpp"
#include "tests/support/scratch.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <sys/stat.h>

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string config_error(std::string_view text) {
  try {
    Config c = load_config_text(text, "rec.toml");
    finish_config(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

std::string cli_error(std::vector<std::string> args) {
  args.insert(args.begin(), "console-gw");
  try {
    parse_command_line(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

RecordingHeader sample_header() {
  RecordingHeader h;
  h.session = 42;
  h.host = "hv1";
  h.uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
  h.domain_name = "web \"1\"";
  h.console = "vnc";
  h.started = std::chrono::sys_days{std::chrono::year{2026} / 12 / 5} + 8h + 46min + 42s + 7ms;
  return h;
}

// Waits until the writer has written `file` to `size` bytes (it runs on its own thread).
bool reaches(const std::string& file, std::uintmax_t size) {
  for (int i = 0; i < 200; ++i) {
    std::error_code ec;
    if (fs::file_size(file, ec) == size && !ec) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(RecordingConfig, DefaultsAndEveryKey) {
  const Config defaults = load_config_text("", "rec.toml");
  EXPECT_EQ(defaults.recording.directory, "/var/lib/console-gw/recordings");
  EXPECT_EQ(defaults.recording.max_bytes, 256u * 1024 * 1024);
  EXPECT_FALSE(defaults.recording.include_input);
  const Config c = load_config_text(R"([recording]
directory = "/srv/recordings"
max_bytes = 1048576
include_input = true
[hosts.hv1]
uri = "qemu:///system"
record = true
)",
                                    "rec.toml");
  EXPECT_EQ(c.recording.directory, "/srv/recordings");
  EXPECT_EQ(c.recording.max_bytes, 1048576u);
  EXPECT_TRUE(c.recording.include_input);
  ASSERT_EQ(c.hosts.size(), 1u);
  EXPECT_TRUE(c.hosts[0].record);
}

TEST(RecordingConfig, ProblemsNameTheKey) {
  EXPECT_EQ(config_error("[recording]\ndirectory = \"recordings\"\n"),
            "rec.toml: recording.directory: must be an absolute path");
  EXPECT_EQ(config_error("[recording]\nmax_bytes = 10\n"),
            "rec.toml: recording.max_bytes: must be between 4096 and 1099511627776, got 10");
  EXPECT_EQ(config_error("[recording]\nfile = \"x\"\n"), "rec.toml: recording.file: unknown key");
  EXPECT_EQ(config_error("[hosts.a]\nuri = \"qemu:///system\"\nrecord = \"yes\"\n"),
            "rec.toml: hosts.a.record: must be true or false");
}

TEST(RecordingCommandLine, TokenRecordFlag) {
  const Command c = parse_command_line(
      {"console-gw", "token", "--host", "h", "--uuid", "u", "--record", "--signing-key", "k"});
  EXPECT_TRUE(std::get<TokenCommand>(c).record);
}

TEST(RecordingCommandLine, ReplayFlags) {
  const Command c =
      parse_command_line({"console-gw", "replay", "/tmp/a.cgwrec", "--speed", "2.5", "--ws-port",
                          "7000", "--listen", "::1", "--novnc-dir", "/opt/novnc"});
  const auto& r = std::get<ReplayCommand>(c);
  EXPECT_EQ(r.file, "/tmp/a.cgwrec");
  EXPECT_EQ(r.speed, 2.5);
  EXPECT_EQ(r.port, 7000);
  EXPECT_EQ(r.listen, "::1");
  EXPECT_EQ(r.novnc_dir, "/opt/novnc");
  const Command defaults = parse_command_line({"console-gw", "replay", "f"});
  const auto& d = std::get<ReplayCommand>(defaults);
  EXPECT_EQ(d.speed, 1.0);
  EXPECT_EQ(d.listen, "127.0.0.1");
  EXPECT_EQ(d.port, 6080);
  EXPECT_TRUE(
      std::holds_alternative<HelpCommand>(parse_command_line({"console-gw", "replay", "--help"})));
}

TEST(RecordingCommandLine, ReplayProblemsNameTheFlag) {
  EXPECT_EQ(cli_error({"replay"}), "replay: needs the recording's file (console-gw replay FILE)");
  EXPECT_EQ(cli_error({"replay", "f", "--speed", "0"}),
            "--speed: must be a number above 0 and at most 1000, got '0'");
  EXPECT_EQ(cli_error({"replay", "f", "--speed", "fast"}),
            "--speed: must be a number above 0 and at most 1000, got 'fast'");
  EXPECT_EQ(cli_error({"replay", "f", "g"}), "g: only one recording at a time");
  EXPECT_EQ(cli_error({"replay", "f", "--token", "x"}),
            "--token: unknown option (see console-gw replay --help)");
}

TEST(RecordingFormat, FileNameHasStartSessionHostAndDomain) {
  RecordingHeader h = sample_header();
  EXPECT_EQ(recording_file_name(h),
            "20261205T084642Z-s42-hv1-0f8fad5b-d9cb-469f-a165-70867728950e.cgwrec");
  h.host = "../x";
  EXPECT_EQ(recording_file_name(h).find('/'), std::string::npos);
}

TEST(RecordingFormat, HeaderLineIsOneJsonLine) {
  const std::string line = recording_header_line(sample_header());
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_NE(line.find(R"("format":"console-gw-recording","version":1,"session":42)"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find(R"("started":"2026-12-05T08:46:42.007Z")"), std::string::npos) << line;
}

TEST(RecordingFormat, FramePrefixIsBigEndian) {
  const auto p = recording_frame_prefix(RecordedDirection::from_browser, 0x01020304, 0x0a0b0c0d);
  EXPECT_EQ(std::string(p.begin(), p.end()),
            std::string("\x01\x01\x02\x03\x04\x0a\x0b\x0c\x0d", 9));
}

TEST(RecordingFormat, ReadBackRefusesWhatIsNotARecording) {
  test::Scratch scratch;
  const auto error = [](const std::string& file) {
    try {
      read_recording(file);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string plain = scratch.write("plain.txt", "hello\n");
  EXPECT_EQ(error(plain), plain + ": not a console-gw recording (its header is not one)");
  const std::string none = scratch.write("none.bin", std::string("\x00\x01", 2));
  EXPECT_EQ(error(none), none + ": not a console-gw recording (no header line)");
  const std::string v2 =
      scratch.write("v2.cgwrec", R"({"format":"console-gw-recording","version":2})"
                                 "\n");
  EXPECT_EQ(error(v2), v2 + ": recording format version 2 is not supported (this console-gw "
                            "reads version 1)");
  EXPECT_NE(error(scratch.path("missing")).find("cannot be opened"), std::string::npos);
}

TEST(Recorder, WritesTheHeaderAndFramesInAFileOfItsOwn) {
  test::Scratch scratch;
  RecordingConfig config;
  config.directory = scratch.path("a/b/recordings");
  config.include_input = true;
  std::string path;
  {
    Recorder recorder(config);
    RecordingHeader h = sample_header();
    h.include_input = true;
    const auto recording = recorder.start(h, "session 42");
    path = recording->path();
    recording->append(RecordedDirection::to_browser, "RFB 003.008\n", 12);
    recording->append(RecordedDirection::from_browser, "RFB 003.008\n", 12);
    recording->append(RecordedDirection::to_browser, "", 0);  // nothing: no frame
    recording->finish();
    recording->append(RecordedDirection::to_browser, "late", 4);  // after the end: nothing
  }
  EXPECT_EQ(fs::path(path).parent_path(), config.directory);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(config.directory.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  const RecordingFile r = read_recording(path);
  EXPECT_EQ(r.header.session, 42u);
  EXPECT_EQ(r.header.host, "hv1");
  EXPECT_EQ(r.header.domain_name, "web \"1\"");
  EXPECT_TRUE(r.header.include_input);
  EXPECT_FALSE(r.truncated);
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].direction, RecordedDirection::to_browser);
  EXPECT_EQ(r.frames[1].direction, RecordedDirection::from_browser);
  EXPECT_EQ(r.frames[0].bytes, "RFB 003.008\n");
  EXPECT_LE(r.frames[0].t_ms, r.frames[1].t_ms);
}

TEST(Recorder, MaxBytesStopsBeforeTheFramePassingIt) {
  test::Scratch scratch;
  RecordingConfig config;
  config.directory = scratch.path("capped");
  const std::size_t header = recording_header_line(sample_header()).size();
  config.max_bytes = header + 2 * (recording_frame_header + 100) + 50;
  Recorder recorder(config);
  const auto recording = recorder.start(sample_header(), "session 42");
  const std::string chunk(100, 'x');
  recording->append(RecordedDirection::to_browser, chunk.data(), chunk.size());
  recording->append(RecordedDirection::to_browser, chunk.data(), chunk.size());
  EXPECT_TRUE(recording->active());
  recording->append(RecordedDirection::to_browser, chunk.data(), chunk.size());
  EXPECT_FALSE(recording->active());
  const std::uintmax_t whole = header + 2 * (recording_frame_header + 100);
  ASSERT_TRUE(reaches(recording->path(), whole));
  const RecordingFile r = read_recording(recording->path());
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_FALSE(r.truncated);
}

TEST(Recorder, AWriterTooFarBehindStopsTheRecording) {
  test::Scratch scratch;
  RecordingConfig config;
  config.directory = scratch.path("behind");
  // Less than one frame may wait for the writer: the first frame is too much.
  Recorder recorder(config, /*max_pending=*/recording_frame_header + 10);
  const auto recording = recorder.start(sample_header(), "session 42");
  const std::string chunk(100, 'x');
  recording->append(RecordedDirection::to_browser, chunk.data(), chunk.size());
  EXPECT_FALSE(recording->active());
  ASSERT_TRUE(reaches(recording->path(), recording_header_line(sample_header()).size()));
  EXPECT_TRUE(read_recording(recording->path()).frames.empty());
}

TEST(Recorder, AllSessionsTogetherHaveABoundToo) {
  test::Scratch scratch;
  RecordingConfig config;
  config.directory = scratch.path("total");
  // Each session may be 8 MiB behind, but all of them together less than a frame.
  Recorder recorder(config, Recorder::default_max_pending, recording_frame_header + 10);
  const auto recording = recorder.start(sample_header(), "session 42");
  const std::string chunk(100, 'x');
  recording->append(RecordedDirection::to_browser, chunk.data(), chunk.size());
  EXPECT_FALSE(recording->active());
  ASSERT_TRUE(reaches(recording->path(), recording_header_line(sample_header()).size()));
  EXPECT_TRUE(read_recording(recording->path()).frames.empty());
}

TEST(Recorder, ADirectoryItCannotMakeLeavesTheSessionUnrecorded) {
  test::Scratch scratch;
  RecordingConfig config;
  config.directory = scratch.write("a-file", "x") + "/recordings";
  Recorder recorder(config);
  const auto recording = recorder.start(sample_header(), "session 42");
  for (int i = 0; i < 200 && recording->active(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(recording->active());
  recording->append(RecordedDirection::to_browser, "x", 1);  // nothing happens
  EXPECT_FALSE(fs::exists(recording->path()));
}

}  // namespace
}  // namespace cgw::gateway
