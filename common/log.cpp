#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace cgw::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_format{static_cast<int>(Format::text)};
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

// "2026-01-02T03:04:05.678Z": UTC, milliseconds.
void append_timestamp(std::string& line) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<milliseconds>(system_clock::now().time_since_epoch());
  const auto millis = static_cast<int>(since_epoch.count() % 1000);
  line.append(second_stamp(static_cast<std::time_t>(since_epoch.count() / 1000)));
  line.push_back(static_cast<char>('0' + millis / 100));
  line.push_back(static_cast<char>('0' + millis / 10 % 10));
  line.push_back(static_cast<char>('0' + millis % 10));
  line.push_back('Z');
}

void append_number(std::string& out, const Field& f) {
  switch (f.kind) {
    case Field::Kind::integer:
      detail::append(out, f.integer);
      break;
    case Field::Kind::unsigned_integer:
      detail::append(out, f.unsigned_integer);
      break;
    default:
      detail::append(out, f.number);
      break;
  }
}

// The length of the UTF-8 sequence at the start of `s`, or 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF are not).
std::size_t utf8_sequence(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  std::size_t n = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return n;
}

// Whether a word must be quoted in text to stay one key=value pair.
bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '\\' || c == '=' || static_cast<unsigned char>(c) < 0x20 ||
        c == 0x7f) {
      return true;
    }
  }
  return false;
}

// A quoted text value: quotes, backslashes and control characters escaped, so
// that a value can neither end its quotes nor break the line.
void append_quoted(std::string& out, std::string_view value) {
  out.push_back('"');
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      constexpr char hex[] = "0123456789abcdef";
      out.append("\\x");
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < text.size()) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u >= 0x80) {
      const std::size_t n = utf8_sequence(text.substr(i));
      if (n == 0) {
        out.append("\\ufffd");
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (u) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (u < 0x20) {
          out.append("\\u00");
          out.push_back(hex[u >> 4]);
          out.push_back(hex[u & 0xf]);
        } else {
          out.push_back(static_cast<char>(u));
        }
    }
    ++i;
  }
  out.push_back('"');
}

bool parse_format(std::string_view text, Format& out) {
  if (text == "text") {
    out = Format::text;
  } else if (text == "json") {
    out = Format::json;
  } else {
    return false;
  }
  return true;
}

void set_format(Format format) {
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

Format format() { return static_cast<Format>(g_format.load(std::memory_order_relaxed)); }

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
  append_timestamp(line);
  line.append(" ").append(level_name(level)).append(" ").append(component).append(": ");
}

void append_fields(std::string& line, std::span<const Field> fields) {
  bool first = true;
  for (const Field& f : fields) {
    if (!first) line.push_back(' ');
    first = false;
    line.append(f.key).push_back('=');
    switch (f.kind) {
      case Field::Kind::word:
        if (needs_quotes(f.text)) {
          append_quoted(line, f.text);
        } else {
          line.append(f.text);
        }
        break;
      case Field::Kind::quoted:
        append_quoted(line, f.text);
        break;
      case Field::Kind::boolean:
        line.append(f.boolean ? "true" : "false");
        break;
      case Field::Kind::seconds:
        append_number(line, f);
        line.push_back('s');
        break;
      default:
        append_number(line, f);
        break;
    }
  }
}

void write_json(Level level, std::string_view component, std::string_view message,
                std::span<const Field> fields) {
  std::string line;
  line.reserve(message.size() + 96 + fields.size() * 32);
  line.append("{\"ts\":\"");
  append_timestamp(line);
  line.append("\",\"level\":\"").append(level_name(level)).append("\",\"component\":");
  append_json_string(line, component);
  line.append(",\"msg\":");
  append_json_string(line, message);
  for (const Field& f : fields) {
    line.push_back(',');
    append_json_string(line, f.key);
    line.push_back(':');
    switch (f.kind) {
      case Field::Kind::word:
      case Field::Kind::quoted:
        append_json_string(line, f.text);
        break;
      case Field::Kind::boolean:
        line.append(f.boolean ? "true" : "false");
        break;
      case Field::Kind::number:
      case Field::Kind::seconds:
        // JSON has no NaN or infinity.
        if (!std::isfinite(f.number)) {
          line.append("null");
          break;
        }
        append_number(line, f);
        break;
      default:
        append_number(line, f);
        break;
    }
  }
  line.push_back('}');
  end_line(line);
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
  if (format() == Format::json) {
    detail::write_json(level, component, message);
    return;
  }
  std::string line;
  line.reserve(message.size() + component.size() + 48);
  detail::begin_line(line, level, component);
  line.append(message);
  detail::end_line(line);
}

}  // namespace cgw::log
