#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace cgw::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::mutex g_write_mutex;

const char* level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "?";
}

// "2026-01-02T03:04:05." for the second `secs`: formatted once per second and
// thread, as most lines of a busy second share it.
std::string_view second_stamp(std::time_t secs) {
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[32];
  thread_local std::size_t cached_length = 0;
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    const int n =
        std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_length = n > 0 ? static_cast<std::size_t>(n) : 0;
    cached_secs = secs;
  }
  return {cached, cached_length};
}

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

namespace detail {

void begin_line(std::string& line, Level level, std::string_view component) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
  const auto millis = static_cast<int>(since_epoch.count() % 1000);
  line.append(second_stamp(static_cast<std::time_t>(since_epoch.count() / 1000)));
  line.push_back(static_cast<char>('0' + millis / 100));
  line.push_back(static_cast<char>('0' + millis / 10 % 10));
  line.push_back(static_cast<char>('0' + millis % 10));
  line.append("Z ").append(level_name(level)).append(" ").append(component).append(": ");
}

void end_line(std::string& line) {
  line.push_back('\n');
  // One write per line, so lines from different threads never interleave: the
  // kernel writes a line this short to a file, pipe or socket in one piece, and
  // threads need not wait for each other. Only what is left of a rare short
  // write goes out under the lock, in a loop.
  const ssize_t first = ::write(STDERR_FILENO, line.data(), line.size());
  if (first == static_cast<ssize_t>(line.size())) return;
  if (first < 0 && errno != EINTR) return;  // nowhere to report it
  std::lock_guard lock(g_write_mutex);
  const char* data = line.data() + (first > 0 ? first : 0);
  std::size_t left = line.size() - static_cast<std::size_t>(first > 0 ? first : 0);
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace detail

void write_line(Level level, std::string_view component, std::string_view message) {
  std::string line;
  line.reserve(message.size() + component.size() + 48);
  detail::begin_line(line, level, component);
  line.append(message);
  detail::end_line(line);
}

}  // namespace cgw::log
