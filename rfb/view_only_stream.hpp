// ViewOnlyStream: the console's ByteStream for a view-only session.
//
// Owns the console's stream and puts an InputFilter on what the browser writes
// to it: input and machine control are dropped, what a viewer needs goes on,
// and a message the filter does not accept ends the session (write() fails
// with rfb::error::view_only_violation; last_error_text() says why in a
// sentence). Reads, waits, close and abort are the console's own. It logs
// nothing: the session reports the ending.
//
// Wrapped around the console's stream after the RFB security handshake, so
// the first byte written is the browser's ClientInit. Threading: as
// ByteStream, one session's thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "rfb/input_filter.hpp"
#include "stream/byte_stream.hpp"

namespace cgw::rfb {

namespace error {
enum view_only_errors {
  // The browser sent a message a viewer may not send and that cannot be dropped
  // safely: a type the filter does not know, or a malformed one.
  view_only_violation = 1,
};
const boost::system::error_category& view_only_category() noexcept;
inline boost::system::error_code make_error_code(view_only_errors e) noexcept {
  return {static_cast<int>(e), view_only_category()};
}
}  // namespace error

class ViewOnlyStream final : public stream::ByteStream {
 public:
  explicit ViewOnlyStream(std::unique_ptr<stream::ByteStream> console);

  boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buf) override;
  bool can_wait_readable() const noexcept override;
  boost::asio::awaitable<stream::error_code> wait_readable() override;
  // Completes when every kept byte of `buf` was written to the console.
  boost::asio::awaitable<stream::error_code> write(boost::asio::const_buffer buf) override;
  boost::asio::awaitable<void> close(stream::EndReason why) override;
  void abort() noexcept override;
  // After a violation: close 1008 (policy violation) with the filter's sentence,
  // which the pump tells the browser.
  std::optional<stream::EndReason> ending() const override;

  // Why the filter ended the session; empty until it did.
  const std::string& last_error_text() const noexcept { return filter_.error_text(); }
  const FilterCounters& counters() const noexcept { return filter_.counters(); }

 private:
  std::unique_ptr<stream::ByteStream> console_;
  InputFilter filter_;
  // The kept pieces of a chunk from which something was dropped, gathered for
  // one write; empty (and small) while nothing is dropped.
  std::vector<std::uint8_t> gather_;
};

}  // namespace cgw::rfb

template <>
struct boost::system::is_error_code_enum<cgw::rfb::error::view_only_errors> : std::true_type {};
