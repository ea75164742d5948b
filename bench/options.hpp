// The command line of cgw-bench: what to connect to (a Target) and a small
// flag walker. Any mistake is a UsageError whose message names the flag; main()
// prints it and exits with status 2.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::bench {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The system under test as the client sees it: a WebSocket URL or a bare TCP
// address (socat, or the backend itself).
struct Target {
  enum class Kind { tcp, ws, wss };
  Kind kind = Kind::tcp;
  std::string host;
  std::uint16_t port = 0;
  std::string resource = "/";  // path and query of the upgrade request (ws, wss)

  bool websocket() const { return kind != Kind::tcp; }
  // "ws://127.0.0.1:6080/websockify" without the query: tokens stay out of output.
  std::string describe() const;
};

// ws://host:port/path?query or wss://…; nullopt when it is not one.
std::optional<Target> parse_url(std::string_view url);
// host:port or [v6]:port.
std::optional<Target> parse_tcp(std::string_view address);

// Walks "--flag value" and "--flag=value" pairs after the subcommand.
class Args {
 public:
  Args(std::vector<std::string> args, std::size_t start);
  bool done() const { return i_ >= args_.size(); }
  std::string next_flag();
  std::string value(const std::string& flag);
  std::uint64_t number(const std::string& flag, std::uint64_t min, std::uint64_t max);
  std::chrono::duration<double> seconds(const std::string& flag);

 private:
  std::vector<std::string> args_;
  std::size_t i_;
  std::optional<std::string> inline_value_;
};

// Reads the target flags every client subcommand shares; returns false when
// `flag` is none of them. --url U, --tcp H:P, --tls (turns ws:// into wss://).
struct TargetFlags {
  std::optional<Target> target;
  bool tls = false;
  bool take(const std::string& flag, Args& args);
  Target finish() const;  // throws UsageError when no target was given
};

}  // namespace cgw::bench
