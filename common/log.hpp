// Logging for every component: one line per event on standard error, each under
// the component's name. The level is checked before anything is formatted, so a
// disabled debug line costs one load. Safe to call from any thread.
//
// A line is built in one string: strings are copied, numbers go through
// std::to_chars (doubles as printf's %g, as an ostream would print them), and
// only other types fall back to an ostream. The line then goes out in one write.
#pragma once

#include <charconv>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace cgw::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);
void set_level(Level level);
bool enabled(Level level);
// Writes one finished line; used by Logger.
void write_line(Level level, std::string_view component, std::string_view message);

namespace detail {

// Starts `line` with the timestamp, the level and the component.
void begin_line(std::string& line, Level level, std::string_view component);
// Ends `line` and writes it out.
void end_line(std::string& line);

template <class T>
void append(std::string& out, const T& part) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, const char*> || std::is_same_v<U, char*>) {
    if (part != nullptr) out.append(part);
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(part));
  } else if constexpr (std::is_same_v<U, char> || std::is_same_v<U, signed char> ||
                       std::is_same_v<U, unsigned char>) {
    out.push_back(static_cast<char>(part));  // as an ostream prints them: a character
  } else if constexpr (std::is_same_v<U, bool>) {
    out.push_back(part ? '1' : '0');
  } else if constexpr (std::is_integral_v<U> || std::is_floating_point_v<U>) {
    char text[64];
    std::to_chars_result r;
    if constexpr (std::is_floating_point_v<U>) {
      r = std::to_chars(text, text + sizeof text, part, std::chars_format::general, 6);
    } else {
      r = std::to_chars(text, text + sizeof text, part);
    }
    out.append(text, r.ptr);
  } else {
    std::ostringstream text;
    text << part;
    out.append(std::move(text).str());
  }
}

}  // namespace detail

class Logger {
 public:
  explicit constexpr Logger(std::string_view component) : component_(component) {}

  template <class... Parts>
  void debug(const Parts&... parts) const {
    emit(Level::debug, parts...);
  }
  template <class... Parts>
  void info(const Parts&... parts) const {
    emit(Level::info, parts...);
  }
  template <class... Parts>
  void warn(const Parts&... parts) const {
    emit(Level::warn, parts...);
  }
  template <class... Parts>
  void error(const Parts&... parts) const {
    emit(Level::error, parts...);
  }

 private:
  template <class... Parts>
  void emit(Level level, const Parts&... parts) const {
    if (!enabled(level)) return;
    std::string line;
    line.reserve(320);
    detail::begin_line(line, level, component_);
    (detail::append(line, parts), ...);
    detail::end_line(line);
  }

  std::string_view component_;
};

}  // namespace cgw::log
