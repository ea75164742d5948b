// ConsoleStream: a libvirt stream (an open serial or text console) as a
// ByteStream for the pump.
//
// The stream is non-blocking. Its events come on libvirt's event-loop thread
// (libvirt_adapter's ensure_initialised runs it); the callback there only
// switches the stream's events off and wakes this session on its executor,
// where virStreamRecv / virStreamSend run and answer at once (-2: nothing now).
// Backpressure both ways: a read waits (READABLE armed) only while the pump
// asks for data, so a browser that does not drain leaves the console's data in
// libvirt; a write waits (WRITABLE armed) while virStreamSend says -2, so the
// pump reads no more from the browser meanwhile.
//
// Ending the stream (virStreamAbort, an RPC) happens on the opener's threads.
// All calls on the session's executor, as ByteStream says.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>
#include <string>

using virStreamPtr = struct _virStream*;

namespace cgw::libvirt_console {

class ConsoleStream final : public stream::ByteStream {
 public:
  // Takes `stream` (one reference, open on a console) and watches its events;
  // `blocking` runs the stream's abort when it ends. `taken_over` is set (by
  // the opener, on any thread) when another client takes the console with
  // force: libvirt then fails this stream, and ending() says why.
  ConsoleStream(virStreamPtr stream, boost::asio::any_io_executor executor,
                std::shared_ptr<boost::asio::thread_pool> blocking,
                std::shared_ptr<std::atomic<bool>> taken_over);
  ~ConsoleStream() override;
  ConsoleStream(const ConsoleStream&) = delete;
  ConsoleStream& operator=(const ConsoleStream&) = delete;

  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) override;
  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buf) override;
  boost::asio::awaitable<void> close(stream::EndReason why) override;
  void abort() noexcept override;
  bool is_open() const noexcept override;
  // "console taken over by another client" (4411) when a client with force
  // took the console; nullopt for other ends.
  std::optional<stream::EndReason> ending() const override;

  struct Watch;
  struct Notifier;

 private:
  void arm() noexcept;
  void failed(std::string why) noexcept;

  virStreamPtr stream_;
  std::shared_ptr<boost::asio::thread_pool> blocking_;
  std::shared_ptr<std::atomic<bool>> taken_over_by_force_;
  std::shared_ptr<Watch> watch_;
  std::weak_ptr<Notifier> notifier_;  // owned by libvirt's callback
  bool reading_ = false;
  bool writing_ = false;
  bool ended_ = false;
  bool taken_over_ = false;
};

}  // namespace cgw::libvirt_console
