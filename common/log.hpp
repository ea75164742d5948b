// Logging for every component: one line per event on standard error, each under
// the component's name. The level is checked before anything is formatted, so a
// disabled debug line costs one load. Safe to call from any thread.
//
// A line is built in one string: strings are copied, numbers go through
// std::to_chars (doubles as printf's %g, as an ostream would print them), and
// only other types fall back to an ostream. The line then goes out in one write.
//
// Two formats (set_format): text, "<ts> <level> <component>: <message>", and
// json, one object per line: {"ts":…,"level":…,"component":…,"msg":…}. An
// event (Logger::event) also carries named fields: in text they are the
// message, as key=value pairs; in json they are keys of the object, with their
// types, next to a msg that names the event.
#pragma once

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace cgw::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
enum class Format { text, json };

// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level& out);
void set_level(Level level);
bool enabled(Level level);
// Parses "text" or "json"; returns false on anything else.
bool parse_format(std::string_view text, Format& out);
// Set once at start, before other threads log.
void set_format(Format format);
Format format();
// Writes one finished line; used by Logger.
void write_line(Level level, std::string_view component, std::string_view message);

// One named value of an event. Build with the functions below; the views must
// outlive the event() call.
struct Field {
  enum class Kind {
    word,    // a string; text: key=value (quoted only when it must be)
    quoted,  // a string; text: key="value"
    integer,
    unsigned_integer,
    number,
    seconds,  // a number of seconds; text: key=1.5s, json: "key":1.5
    boolean,
  };
  std::string_view key;
  Kind kind = Kind::word;
  std::string_view text;
  std::int64_t integer = 0;
  std::uint64_t unsigned_integer = 0;
  double number = 0;
  bool boolean = false;
};

inline Field make_field(std::string_view key, Field::Kind kind) {
  Field f;
  f.key = key;
  f.kind = kind;
  return f;
}
inline Field word(std::string_view key, std::string_view value) {
  Field f = make_field(key, Field::Kind::word);
  f.text = value;
  return f;
}
inline Field quoted(std::string_view key, std::string_view value) {
  Field f = make_field(key, Field::Kind::quoted);
  f.text = value;
  return f;
}
inline Field number(std::string_view key, std::uint64_t value) {
  Field f = make_field(key, Field::Kind::unsigned_integer);
  f.unsigned_integer = value;
  return f;
}
inline Field signed_number(std::string_view key, std::int64_t value) {
  Field f = make_field(key, Field::Kind::integer);
  f.integer = value;
  return f;
}
inline Field real(std::string_view key, double value) {
  Field f = make_field(key, Field::Kind::number);
  f.number = value;
  return f;
}
inline Field seconds(std::string_view key, double value) {
  Field f = make_field(key, Field::Kind::seconds);
  f.number = value;
  return f;
}
inline Field flag(std::string_view key, bool value) {
  Field f = make_field(key, Field::Kind::boolean);
  f.boolean = value;
  return f;
}

// Appends `text` as a JSON string, quotes included: control characters,
// quotes and backslashes escaped, bytes that are not UTF-8 as U+FFFD.
void append_json_string(std::string& out, std::string_view text);

namespace detail {

// Starts `line` with the timestamp, the level and the component.
void begin_line(std::string& line, Level level, std::string_view component);
// Ends `line` and writes it out.
void end_line(std::string& line);
// A json line for a message of parts, or for an event's msg and fields.
void write_json(Level level, std::string_view component, std::string_view message,
                std::span<const Field> fields = {});
// An event's fields as text ("key=value key=\"value\" ...").
void append_fields(std::string& line, std::span<const Field> fields);

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

  // An event with named fields. In text the fields are the line's message (msg
  // is left out: a field such as outcome= names the event); in json msg and
  // each field are keys of the line's object.
  void event(Level level, std::string_view msg, std::initializer_list<Field> fields) const {
    event(level, msg, std::span<const Field>(fields.begin(), fields.size()));
  }
  void event(Level level, std::string_view msg, std::span<const Field> fields) const {
    if (!enabled(level)) return;
    if (format() == Format::json) {
      detail::write_json(level, component_, msg, fields);
      return;
    }
    std::string line;
    line.reserve(320);
    detail::begin_line(line, level, component_);
    detail::append_fields(line, fields);
    detail::end_line(line);
  }

 private:
  template <class... Parts>
  void emit(Level level, const Parts&... parts) const {
    if (!enabled(level)) return;
    std::string line;
    line.reserve(320);
    if (format() == Format::json) {
      (detail::append(line, parts), ...);
      detail::write_json(level, component_, line);
      return;
    }
    detail::begin_line(line, level, component_);
    (detail::append(line, parts), ...);
    detail::end_line(line);
  }

  std::string_view component_;
};

}  // namespace cgw::log
