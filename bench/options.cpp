#include "bench/options.hpp"

#include <charconv>
#include <utility>

namespace cgw::bench {
namespace {

std::optional<std::uint16_t> port_number(std::string_view text) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// "host:port" or "[v6]:port" into a Target's host and port.
bool split_host_port(std::string_view text, Target& out) {
  std::string_view host, port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  const auto number = port_number(port);
  if (host.empty() || !number) return false;
  out.host = std::string(host);
  out.port = *number;
  return true;
}

}  // namespace

std::string Target::describe() const {
  if (kind == Kind::tcp) return "tcp://" + host + ":" + std::to_string(port);
  const std::string path = resource.substr(0, resource.find('?'));
  return (kind == Kind::ws ? "ws://" : "wss://") + host + ":" + std::to_string(port) + path;
}

std::optional<Target> parse_url(std::string_view url) {
  Target out;
  if (url.starts_with("ws://")) {
    out.kind = Target::Kind::ws;
    url.remove_prefix(5);
  } else if (url.starts_with("wss://")) {
    out.kind = Target::Kind::wss;
    url.remove_prefix(6);
  } else {
    return std::nullopt;
  }
  const auto slash = url.find_first_of("/?");
  const std::string_view authority = url.substr(0, slash);
  if (!split_host_port(authority, out)) return std::nullopt;
  if (slash != std::string_view::npos) {
    out.resource = std::string(url.substr(slash));
    if (out.resource.front() == '?') out.resource.insert(0, "/");
  }
  return out;
}

std::optional<Target> parse_tcp(std::string_view address) {
  Target out;
  out.kind = Target::Kind::tcp;
  if (!split_host_port(address, out)) return std::nullopt;
  return out;
}

Args::Args(std::vector<std::string> args, std::size_t start) : args_(std::move(args)), i_(start) {}

std::string Args::next_flag() {
  std::string arg = args_[i_++];
  inline_value_.reset();
  if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string::npos) {
    inline_value_ = arg.substr(eq + 1);
    arg.resize(eq);
  }
  return arg;
}

std::string Args::value(const std::string& flag) {
  if (inline_value_) return *std::exchange(inline_value_, std::nullopt);
  if (done()) throw UsageError(flag + ": needs a value");
  return args_[i_++];
}

std::uint64_t Args::number(const std::string& flag, std::uint64_t min, std::uint64_t max) {
  const std::string text = value(flag);
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr != text.data() + text.size() || n < min || n > max) {
    throw UsageError(flag + ": must be a number from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + text + "'");
  }
  return n;
}

std::chrono::duration<double> Args::seconds(const std::string& flag) {
  const std::string text = value(flag);
  double s = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
  if (ec != std::errc() || ptr != text.data() + text.size() || s < 0 || s > 86400) {
    throw UsageError(flag + ": must be seconds (0-86400), got '" + text + "'");
  }
  return std::chrono::duration<double>(s);
}

bool TargetFlags::take(const std::string& flag, Args& args) {
  if (flag == "--url") {
    const std::string text = args.value(flag);
    target = parse_url(text);
    if (!target) throw UsageError("--url: must be ws://HOST:PORT/PATH or wss://…");
  } else if (flag == "--tcp") {
    const std::string text = args.value(flag);
    target = parse_tcp(text);
    if (!target) throw UsageError("--tcp: must be HOST:PORT, got '" + text + "'");
  } else if (flag == "--tls") {
    tls = true;
  } else {
    return false;
  }
  return true;
}

Target TargetFlags::finish() const {
  if (!target) throw UsageError("--url or --tcp is required");
  Target out = *target;
  if (tls) {
    if (out.kind == Target::Kind::tcp) throw UsageError("--tls: only for WebSocket URLs");
    out.kind = Target::Kind::wss;
  }
  return out;
}

}  // namespace cgw::bench
