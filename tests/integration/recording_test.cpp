// Session recording on real parts: the real console-gw Server (in this
// process), the real libvirtd and a real QEMU guest's VNC console, a real
// WebSocket client doing noVNC's RFB handshake. The files are read back as
// `console-gw replay` reads them.
#include "gateway/recording.hpp"
#include "gateway/config.hpp"
#include "gateway/server.hpp"
#include "tests/support/domains.hpp"
#include "tests/support/rfb_client.hpp"
#include "tests/support/scratch.hpp"
#include "tests/support/ws_client.hpp"
#include "token/token.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cgw {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A FramebufferUpdateRequest for the whole screen (non-incremental), as noVNC sends.
const std::string kUpdateRequest("\x03\x00\x00\x00\x00\x00\x04\x00\x04\x00", 10);

class Recording : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new test::Scratch();
    secret_ = scratch_->hs256_secret("token.key");
    log_file_ = scratch_->path("gateway.log");
    saved_stderr_ = dup(STDERR_FILENO);
    const int fd = open(log_file_.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  static void TearDownTestSuite() {
    dup2(saved_stderr_, STDERR_FILENO);
    close(saved_stderr_);
    delete scratch_;
  }

  static test::TestDomain& vnc() {
    static test::TestDomain d("cgw-it-rec-" + std::to_string(getpid()),
                              "<graphics type='vnc' autoport='yes' listen='127.0.0.1'/>"
                              "<video><model type='cirrus'/></video>");
    return d;
  }

  // A gateway whose "rec" host records every session and whose "local" host
  // records only those whose token asks, into `dir`.
  void start(const std::string& dir, std::uint64_t max_bytes = 64 * 1024 * 1024,
             bool include_input = false) {
    gateway::Config config;
    config.listen = "127.0.0.1";
    config.port = 0;
    config.token_key_file = secret_;
    config.recording.directory = dir;
    config.recording.max_bytes = max_bytes;
    config.recording.include_input = include_input;
    gateway::HostConfig recorded;
    recorded.id = "rec";
    recorded.uri = "qemu:///system";
    recorded.record = true;
    gateway::HostConfig plain;
    plain.id = "local";
    plain.uri = "qemu:///system";
    config.hosts = {recorded, plain};
    gateway::finish_config(config);
    server_.emplace(std::move(config));
    server_->start();
    thread_ = std::thread([this] { server_->run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
      thread_.join();
      server_.reset();
    }
  }

  std::string token(const std::string& host, bool record = false) {
    const token::SigningKey key = token::SigningKey::load_file(secret_);
    token::MintRequest request;
    request.host_id = host;
    request.uuid = vnc().uuid();
    request.record = record;
    tokens_.push_back(token::mint(key, request));
    return tokens_.back();
  }

  std::unique_ptr<test::WsClient> client(const std::string& token_value) {
    test::WsOptions o;
    o.port = server_->port();
    o.target = "/websockify?token=" + token_value;
    return test::WsClient::connect(o);
  }

  // A session as noVNC begins one: the handshake, then a picture of the screen.
  void watch_screen(test::WsClient& c) {
    const test::ServerInit init = test::rfb_connect(c);
    EXPECT_GT(init.width, 0u);
    c.write(kUpdateRequest);
    EXPECT_EQ(c.read_exactly(1), std::string(1, '\0')) << "FramebufferUpdate";
  }

  // The one recording in `dir`, once the writer has closed it (the session ended).
  static std::vector<fs::path> files_in(const std::string& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) out.push_back(entry.path());
    return out;
  }
  static std::string read_all(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }
  // The file once its session has ended and its size stopped changing.
  static std::string settled_file(const std::string& dir) {
    std::string last;
    for (int i = 0; i < 50; ++i) {
      std::this_thread::sleep_for(100ms);
      const auto files = files_in(dir);
      if (files.size() != 1) continue;
      std::string now = read_all(files.front().string());
      if (!now.empty() && now == last) return files.front().string();
      last = std::move(now);
    }
    const auto files = files_in(dir);
    return files.empty() ? std::string() : files.front().string();
  }
  static std::string to_browser(const gateway::RecordingFile& r) {
    std::string out;
    for (const auto& f : r.frames) {
      if (f.direction == gateway::RecordedDirection::to_browser) out += f.bytes;
    }
    return out;
  }

  static inline test::Scratch* scratch_ = nullptr;
  static inline std::string secret_, log_file_;
  static inline int saved_stderr_ = -1;
  std::optional<gateway::Server> server_;
  std::thread thread_;
  std::vector<std::string> tokens_;
};

TEST_F(Recording, HostRecordsWhatTheBrowserSawWithoutTheToken) {
  const std::string dir = scratch_->path("host-rec/recordings");
  start(dir);
  {
    auto c = client(token("rec"));
    watch_screen(*c);
    c->close();
  }
  const std::string file = settled_file(dir);
  ASSERT_FALSE(file.empty()) << "no recording in " << dir;
  const std::string name = fs::path(file).filename().string();
  EXPECT_NE(name.find("-rec-" + vnc().uuid() + ".cgwrec"), std::string::npos) << name;
  EXPECT_EQ(name.find("-s"), 16u) << name;  // after "YYYYMMDDTHHMMSSZ"

  struct stat st {};
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  const gateway::RecordingFile r = gateway::read_recording(file);
  EXPECT_EQ(r.header.host, "rec");
  EXPECT_EQ(r.header.uuid, vnc().uuid());
  EXPECT_EQ(r.header.domain_name, vnc().name());
  EXPECT_EQ(r.header.console, "vnc");
  EXPECT_FALSE(r.header.include_input);
  EXPECT_FALSE(r.truncated);
  EXPECT_NE(r.header_line.find("\"version\":1"), std::string::npos) << r.header_line;
  EXPECT_NE(r.header_line.find("\"started\":\""), std::string::npos) << r.header_line;
  ASSERT_FALSE(r.frames.empty());
  std::uint32_t last = 0;
  for (const auto& f : r.frames) {
    EXPECT_EQ(f.direction, gateway::RecordedDirection::to_browser) << "input not asked for";
    EXPECT_GE(f.t_ms, last);
    last = f.t_ms;
  }
  // What the browser saw: the gateway's handshake offering None only, then
  // QEMU's ServerInit and the picture (a FramebufferUpdate starts with 0).
  const std::string seen = to_browser(r);
  ASSERT_GT(seen.size(), 12u + 2 + 4 + 24);
  EXPECT_EQ(seen.substr(0, 12), test::kRfbVersion);
  EXPECT_EQ(seen.substr(12, 2), std::string("\x01\x01", 2)) << "one security type: None";
  EXPECT_EQ(seen.substr(14, 4), std::string(4, '\0')) << "SecurityResult OK";
  EXPECT_NE(seen.find(vnc().name()), std::string::npos) << "ServerInit's name";

  const std::string bytes = read_all(file);
  for (const auto& t : tokens_) EXPECT_EQ(bytes.find(t), std::string::npos) << "token in the file";
  const std::string log = read_all(log_file_);
  EXPECT_NE(log.find("recording to " + file), std::string::npos) << log;
}

TEST_F(Recording, TokenClaimRecordsOnAHostThatDoesNot) {
  const std::string dir = scratch_->path("token-rec");
  start(dir);
  {
    auto c = client(token("local"));
    watch_screen(*c);
    c->close();
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(files_in(dir).empty()) << "recorded without the claim";
  {
    auto c = client(token("local", true));
    watch_screen(*c);
    c->close();
  }
  const std::string file = settled_file(dir);
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(gateway::read_recording(file).header.host, "local");
}

TEST_F(Recording, IncludeInputRecordsTheBrowsersBytes) {
  const std::string dir = scratch_->path("input-rec");
  start(dir, 64 * 1024 * 1024, true);
  {
    auto c = client(token("rec"));
    watch_screen(*c);
    c->close();
  }
  const std::string file = settled_file(dir);
  ASSERT_FALSE(file.empty());
  const gateway::RecordingFile r = gateway::read_recording(file);
  EXPECT_TRUE(r.header.include_input);
  std::string from;
  for (const auto& f : r.frames) {
    if (f.direction == gateway::RecordedDirection::from_browser) from += f.bytes;
  }
  EXPECT_EQ(from.substr(0, 12), test::kRfbVersion) << "the browser's version";
  EXPECT_NE(from.find(kUpdateRequest), std::string::npos);
}

TEST_F(Recording, MaxBytesStopsTheRecordingNotTheConsole) {
  const std::string dir = scratch_->path("capped");
  constexpr std::uint64_t cap = 4096;
  start(dir, cap);
  auto c = client(token("rec"));
  watch_screen(*c);
  // The screen goes on after the cap: another full update comes whole.
  std::this_thread::sleep_for(500ms);
  c->write(kUpdateRequest);
  std::optional<std::string> more = c->read_message();
  EXPECT_TRUE(more.has_value()) << "the console stopped with its recording";
  c->close();
  c.reset();
  const std::string file = settled_file(dir);
  ASSERT_FALSE(file.empty());
  EXPECT_LE(fs::file_size(file), cap);
  const gateway::RecordingFile r = gateway::read_recording(file);
  EXPECT_FALSE(r.truncated) << "whole frames only";
  EXPECT_EQ(to_browser(r).substr(0, 12), test::kRfbVersion);
  const std::string log = read_all(log_file_);
  EXPECT_NE(log.find("recording stopped: recording.max_bytes (4096 bytes) reached; " + file),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace cgw
