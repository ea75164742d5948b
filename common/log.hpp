// Logging for every component: one line per event on standard error, each under
// the component's name. The level is checked before anything is formatted, so a
// disabled debug line costs one load. Safe to call from any thread.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace cgw::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);
void set_level(Level level);
bool enabled(Level level);
// Writes one finished line; used by Logger.
void write_line(Level level, std::string_view component, std::string_view message);

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
    std::ostringstream out;
    (out << ... << parts);
    write_line(level, component_, out.str());
  }

  std::string_view component_;
};

}  // namespace cgw::log
