// StreamOpener: opens a domain's serial or text console through libvirt
// (virDomainOpenConsole on a non-blocking virStream), for the consoles that are
// not a socket the gateway can reach. It works for every host libvirt reaches,
// local or remote, with no port of the console's own.
//
// Each host URI gets a read-write connection of the opener's own (opening a
// console needs one; the domain lookups' connections are read-only), opened on
// first use, kept alive with libvirt's keepalive and reopened when dead. Every
// blocking libvirt call (connecting, the lookup, opening the console, aborting
// a stream at its end) runs on the opener's threads, never on a network
// thread, with `call_timeout` as the limit the session waits.
//
// open() may be called from many sessions at once, on their own executors; the
// ByteStream it returns belongs to the calling session (console_stream.hpp).
// The opener must outlive the open() calls; streams may outlive it.
#pragma once

#include "tunnel/console_opener.hpp"

#include <chrono>
#include <memory>

namespace cgw::libvirt_console {

struct StreamOpenerOptions {
  std::chrono::milliseconds call_timeout{10'000};
  unsigned threads = 2;
  int keepalive_interval_s = 5;
  unsigned keepalive_count = 3;
};

class StreamOpener final : public tunnel::ConsoleOpener {
 public:
  explicit StreamOpener(StreamOpenerOptions options);
  ~StreamOpener() override;
  StreamOpener(const StreamOpener&) = delete;
  StreamOpener& operator=(const StreamOpener&) = delete;

  // ConnectResult::Failure: console_busy when another client holds the console
  // and the spec has no force; no_console when the domain or device is not
  // there (or the domain stopped); hypervisor_unreachable otherwise.
  boost::asio::awaitable<tunnel::ConnectResult> open(
      const tunnel::ConsoleSpec& console) const override;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace cgw::libvirt_console
