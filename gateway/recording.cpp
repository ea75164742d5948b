#include "gateway/recording.hpp"

#include "common/log.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr log::Logger logger{"recording"};

std::string utc_time(std::chrono::system_clock::time_point t, bool compact) {
  const auto seconds = std::chrono::system_clock::to_time_t(t);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()) %
                  std::chrono::seconds(1);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  if (compact) {
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
    return text;
  }
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms.count()));
  return std::string(text) + millis;
}

// Letters, digits, '.', '_' and '-' only: a host ID or UUID as part of a file name.
std::string file_safe(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out += ok ? c : '_';
  }
  return out.empty() ? "-" : out;
}

void put_u32(unsigned char* at, std::uint32_t v) {
  at[0] = static_cast<unsigned char>(v >> 24);
  at[1] = static_cast<unsigned char>(v >> 16);
  at[2] = static_cast<unsigned char>(v >> 8);
  at[3] = static_cast<unsigned char>(v);
}

std::uint32_t get_u32(const unsigned char* at) {
  return (std::uint32_t{at[0]} << 24) | (std::uint32_t{at[1]} << 16) | (std::uint32_t{at[2]} << 8) |
         std::uint32_t{at[3]};
}

// Makes the directory (and its parents) when missing; the directory itself 0700.
bool make_directory(const std::string& dir, std::string& problem) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    problem = dir + ": not a directory";
    return false;
  }
  const auto slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (!make_directory(dir.substr(0, slash), problem)) return false;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    problem = dir + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

}  // namespace

std::string recording_header_line(const RecordingHeader& h) {
  json::object o;
  o["format"] = recording_format;
  o["version"] = recording_version;
  o["session"] = h.session;
  o["host"] = h.host;
  o["domain"] = h.uuid;
  o["domain_name"] = h.domain_name;
  o["console"] = h.console;
  o["started"] = utc_time(h.started, false);
  o["include_input"] = h.include_input;
  o["frame"] = "direction u8 (0 to browser, 1 from browser), t_ms u32be, length u32be, bytes";
  return json::serialize(o) + "\n";
}

std::string recording_file_name(const RecordingHeader& h) {
  return utc_time(h.started, true) + "-s" + std::to_string(h.session) + "-" + file_safe(h.host) +
         "-" + file_safe(h.uuid) + ".cgwrec";
}

std::array<unsigned char, recording_frame_header> recording_frame_prefix(RecordedDirection d,
                                                                         std::uint32_t t_ms,
                                                                         std::uint32_t length) {
  std::array<unsigned char, recording_frame_header> out{};
  out[0] = static_cast<unsigned char>(d);
  put_u32(&out[1], t_ms);
  put_u32(&out[5], length);
  return out;
}

// A session's recording. The session's thread owns `accepted` and `stopped`;
// the writer owns `fd`; `pending` and `failed` they share.
struct Recording::State {
  std::weak_ptr<Recorder::Impl> recorder;
  std::string log_prefix;
  std::string path;
  Clock::time_point start = Clock::now();
  bool include_input = false;
  std::uint64_t max_bytes = 0;
  std::uint64_t max_pending = 0;
  std::uint64_t accepted = 0;  // the header and the frames handed to the writer
  bool stopped = false;
  bool finished = false;
  std::atomic<std::uint64_t> pending{0};  // queued, not yet written
  std::atomic<bool> failed{false};        // the writer could not create or write it
  int fd = -1;
};

struct Recorder::Impl {
  struct Job {
    enum class Kind { open, write, close } kind;
    std::shared_ptr<Recording::State> state;
    std::string bytes;
  };

  RecordingConfig config;
  std::uint64_t max_pending;
  std::uint64_t max_pending_total;
  std::atomic<std::uint64_t> pending_total{0};  // queued for every session
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Job> queue;
  bool stopping = false;
  std::thread writer;

  void push(Job job) {
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(job));
    }
    wake.notify_one();
  }

  void run() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (queue.empty()) return;
        job = std::move(queue.front());
        queue.pop_front();
      }
      handle(job);
    }
  }

  void handle(Job& job) {
    Recording::State& s = *job.state;
    switch (job.kind) {
      case Job::Kind::open: {
        std::string problem;
        if (make_directory(config.directory, problem)) {
          s.fd = ::open(s.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
          if (s.fd < 0) problem = s.path + ": " + std::strerror(errno);
        }
        if (s.fd < 0) {
          s.failed = true;
          logger.warn(s.log_prefix, " not recorded: cannot create the recording: ", problem);
          break;
        }
        ::fchmod(s.fd, 0600);
        logger.info(s.log_prefix, " recording to ", s.path);
        write_all(s, job.bytes);
        break;
      }
      case Job::Kind::write:
        write_all(s, job.bytes);
        break;
      case Job::Kind::close:
        if (s.fd >= 0) ::close(s.fd);
        s.fd = -1;
        break;
    }
    s.pending -= job.bytes.size();
    pending_total -= job.bytes.size();
  }

  void write_all(Recording::State& s, const std::string& bytes) {
    if (s.fd < 0 || s.failed) return;
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(s.fd, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        s.failed = true;
        logger.warn(s.log_prefix, " recording stopped: writing ", s.path,
                    " failed: ", std::strerror(errno));
        return;
      }
      done += static_cast<std::size_t>(n);
    }
  }
};

Recorder::Recorder(RecordingConfig config, std::uint64_t max_pending,
                   std::uint64_t max_pending_total)
    : impl_(std::make_shared<Impl>()) {
  impl_->config = std::move(config);
  impl_->max_pending = max_pending;
  impl_->max_pending_total = max_pending_total;
  impl_->writer = std::thread([impl = impl_.get()] { impl->run(); });
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  impl_->writer.join();
  // What sessions still open append from now on is dropped (their Recording
  // finds no Recorder); each file is whole up to its last frame written.
}

const RecordingConfig& Recorder::config() const noexcept { return impl_->config; }

std::shared_ptr<Recording> Recorder::start(const RecordingHeader& header, std::string log_prefix) {
  auto state = std::make_shared<Recording::State>();
  state->recorder = impl_;
  state->log_prefix = std::move(log_prefix);
  state->path = impl_->config.directory + "/" + recording_file_name(header);
  state->include_input = header.include_input;
  state->max_bytes = impl_->config.max_bytes;
  state->max_pending = impl_->max_pending;
  Impl::Job open{Impl::Job::Kind::open, state, recording_header_line(header)};
  state->accepted = open.bytes.size();
  state->pending = open.bytes.size();
  impl_->pending_total += open.bytes.size();
  impl_->push(std::move(open));
  return std::make_shared<Recording>(std::move(state));
}

Recording::Recording(std::shared_ptr<State> state) : state_(std::move(state)) {}

Recording::~Recording() { finish(); }

bool Recording::include_input() const noexcept { return state_->include_input; }

bool Recording::active() const noexcept { return !state_->stopped && !state_->failed; }

std::string Recording::path() const { return state_->path; }

void Recording::append(RecordedDirection direction, const void* data, std::size_t size) {
  State& s = *state_;
  if (s.stopped || s.failed || size == 0) return;
  const auto recorder = s.recorder.lock();
  if (!recorder) return;
  const std::uint64_t frame = recording_frame_header + size;
  if (s.accepted + frame > s.max_bytes) {
    s.stopped = true;
    logger.warn(s.log_prefix, " recording stopped: recording.max_bytes (", s.max_bytes,
                " bytes) reached; ", s.path, " holds the session up to here");
    finish();
    return;
  }
  const std::uint64_t behind = s.pending.load();
  if (behind + frame > s.max_pending ||
      recorder->pending_total.load() + frame > recorder->max_pending_total) {
    s.stopped = true;
    logger.warn(s.log_prefix, " recording stopped: the writer is ", behind,
                " bytes behind (the disk is too slow); ", s.path, " holds the session up to here");
    finish();
    return;
  }
  const auto t_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - s.start);
  const auto prefix = recording_frame_prefix(direction, static_cast<std::uint32_t>(t_ms.count()),
                                             static_cast<std::uint32_t>(size));
  Recorder::Impl::Job job{Recorder::Impl::Job::Kind::write, state_, {}};
  job.bytes.reserve(frame);
  job.bytes.append(reinterpret_cast<const char*>(prefix.data()), prefix.size());
  job.bytes.append(static_cast<const char*>(data), size);
  s.accepted += frame;
  s.pending += frame;
  recorder->pending_total += frame;
  recorder->push(std::move(job));
}

void Recording::finish() {
  State& s = *state_;
  if (s.finished) return;
  s.finished = true;
  s.stopped = true;
  if (const auto recorder = s.recorder.lock()) {
    recorder->push(Recorder::Impl::Job{Recorder::Impl::Job::Kind::close, state_, {}});
  }
}

RecordingStream::RecordingStream(stream::ByteStream& browser, std::shared_ptr<Recording> recording)
    : browser_(browser), recording_(std::move(recording)) {}

net::awaitable<std::tuple<stream::error_code, std::size_t>> RecordingStream::read_some(
    net::mutable_buffer buf) {
  auto [ec, n] = co_await browser_.read_some(buf);
  if (n > 0 && recording_->include_input()) {
    recording_->append(RecordedDirection::from_browser, buf.data(), n);
  }
  co_return std::tuple<stream::error_code, std::size_t>{ec, n};
}

net::awaitable<stream::error_code> RecordingStream::wait_readable() {
  co_return co_await browser_.wait_readable();
}

net::awaitable<stream::error_code> RecordingStream::write(net::const_buffer buf) {
  // Recorded when handed over, not when the browser acknowledged it: the
  // times are those at which the console sent it.
  recording_->append(RecordedDirection::to_browser, buf.data(), buf.size());
  co_return co_await browser_.write(buf);
}

net::awaitable<void> RecordingStream::close(stream::EndReason why) {
  recording_->finish();
  co_await browser_.close(std::move(why));
}

RecordingFile read_recording(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot be opened: " + std::strerror(errno));
  const std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  RecordingFile out;
  const auto newline = data.find('\n');
  if (newline == std::string::npos || newline > 64 * 1024) {
    throw ConfigError(path + ": not a console-gw recording (no header line)");
  }
  out.header_line = data.substr(0, newline);
  json::error_code parse_error;
  const json::value header = json::parse(out.header_line, parse_error);
  const json::object* o = parse_error ? nullptr : header.if_object();
  if (!o || !o->contains("format") || !(*o).at("format").is_string() ||
      (*o).at("format").get_string() != recording_format) {
    throw ConfigError(path + ": not a console-gw recording (its header is not one)");
  }
  const auto text = [o](std::string_view key) -> std::string {
    const json::value* v = o->if_contains(key);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  const json::value* version = o->if_contains("version");
  if (!version || !version->is_int64() || version->get_int64() != recording_version) {
    throw ConfigError(path + ": recording format version " +
                      (version ? json::serialize(*version) : std::string("?")) +
                      " is not supported (this console-gw reads version " +
                      std::to_string(recording_version) + ")");
  }
  out.header.host = text("host");
  out.header.uuid = text("domain");
  out.header.domain_name = text("domain_name");
  out.header.console = text("console");
  if (const json::value* session = o->if_contains("session"); session && session->is_number()) {
    out.header.session = session->to_number<std::uint64_t>();
  }
  if (const json::value* input = o->if_contains("include_input"); input && input->is_bool()) {
    out.header.include_input = input->get_bool();
  }
  std::size_t at = newline + 1;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  while (at < data.size()) {
    if (data.size() - at < recording_frame_header) {
      out.truncated = true;
      break;
    }
    RecordedFrame frame;
    if (bytes[at] > 1) throw ConfigError(path + ": bad frame at byte " + std::to_string(at));
    frame.direction = static_cast<RecordedDirection>(bytes[at]);
    frame.t_ms = get_u32(bytes + at + 1);
    const std::uint32_t length = get_u32(bytes + at + 5);
    at += recording_frame_header;
    if (data.size() - at < length) {
      out.truncated = true;
      break;
    }
    frame.bytes = data.substr(at, length);
    at += length;
    out.frames.push_back(std::move(frame));
  }
  return out;
}

}  // namespace cgw::gateway
