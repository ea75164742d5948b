// ConsoleOpener: the seam through which an authorised console becomes a
// ByteStream for the pump. Console kinds that are a socket (VNC and SPICE on
// TCP or UNIX, direct or through SSH) are opened by the Connector; a console
// that is not a socket (a serial console as a libvirt stream) gets an opener
// of its own, which the gateway picks by the console's kind.
//
// open() runs on the caller's executor (a session's thread), never blocks it,
// and may be called by many sessions at once: an opener synchronises itself.
#pragma once

#include "common/console_kind.hpp"
#include "stream/byte_stream.hpp"
#include "tunnel/console_path.hpp"
#include "tunnel/host_route.hpp"

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace cgw::tunnel {

struct ConnectResult {
  enum class Failure {
    none,
    console_unreachable,     // the console's address or socket refused or timed out
    needs_ssh,               // the console is only reachable through SSH, not configured
    hypervisor_unreachable,  // SSH to the host failed: down, auth, timeout
    host_key_not_trusted,    // SSH host key unknown or changed
    console_busy,            // another client holds the console (serial, without force)
    no_console,              // the domain has no such console, or it is not running
  };
  std::unique_ptr<stream::ByteStream> stream;
  Failure failure = Failure::none;
  std::string reason;       // short, for the close reason and the log
  std::string description;  // where the stream goes, for the log ("tcp 127.0.0.1:5900")
  explicit operator bool() const { return stream != nullptr; }

  static ConnectResult failed(Failure failure, std::string reason, std::string description) {
    ConnectResult result;
    result.failure = failure;
    result.reason = std::move(reason);
    result.description = std::move(description);
    return result;
  }
};

// One console of one domain, as an opener is asked for it.
struct ConsoleSpec {
  const HostRoute& host;
  std::string_view uuid;  // the domain
  ConsoleKind kind;
  const ConsolePath& path;  // how to reach a socket console; unused by other openers
  // A console opened through libvirt (serial): the device's alias (empty: the
  // domain's first) and whether to take it over from a client that holds it.
  std::string_view device{};
  bool force = false;
};

class ConsoleOpener {
 public:
  virtual ~ConsoleOpener() = default;
  virtual boost::asio::awaitable<ConnectResult> open(const ConsoleSpec& console) const = 0;
};

}  // namespace cgw::tunnel
