#include "rfb/view_only_stream.hpp"

#include <cstring>
#include <utility>

namespace cgw::rfb {

namespace error {
namespace {

// Boost's error_category has a protected non-virtual destructor by design
// (categories are never deleted through a base pointer).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class ViewOnlyCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "cgw.rfb.view_only"; }
  std::string message(int value) const override {
    switch (static_cast<view_only_errors>(value)) {
      case view_only_violation:
        return "the browser sent a message a view-only session does not accept";
    }
    return "unknown view-only error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& view_only_category() noexcept {
  static const ViewOnlyCategory category;
  return category;
}
}  // namespace error

namespace {
// A gather buffer bigger than this is given back after its write, so a session
// that once sent a big mixed chunk does not keep the memory while idle.
constexpr std::size_t gather_keep_capacity = 4096;
}  // namespace

ViewOnlyStream::ViewOnlyStream(std::unique_ptr<stream::ByteStream> console)
    : console_(std::move(console)) {}

boost::asio::awaitable<std::tuple<stream::error_code, std::size_t>> ViewOnlyStream::read_some(
    boost::asio::mutable_buffer buf) {
  return console_->read_some(buf);
}

bool ViewOnlyStream::can_wait_readable() const noexcept { return console_->can_wait_readable(); }

boost::asio::awaitable<stream::error_code> ViewOnlyStream::wait_readable() {
  return console_->wait_readable();
}

boost::asio::awaitable<stream::error_code> ViewOnlyStream::write(boost::asio::const_buffer buf) {
  const FilterResult result =
      filter_.feed(Bytes(static_cast<const std::uint8_t*>(buf.data()), buf.size()));
  if (!result.ok()) co_return error::make_error_code(error::view_only_violation);
  if (result.keep.empty()) co_return stream::error_code{};
  // The usual case, nothing dropped: the caller's bytes in one write.
  if (result.keep.size() == 1) {
    co_return co_await console_->write(
        boost::asio::const_buffer(result.keep.front().data(), result.keep.front().size()));
  }
  // Something dropped in between: one write of the kept pieces rather than one
  // system call each.
  gather_.clear();
  for (const Bytes piece : result.keep) gather_.insert(gather_.end(), piece.begin(), piece.end());
  const stream::error_code ec =
      co_await console_->write(boost::asio::const_buffer(gather_.data(), gather_.size()));
  if (gather_.capacity() > gather_keep_capacity) std::vector<std::uint8_t>().swap(gather_);
  co_return ec;
}

boost::asio::awaitable<void> ViewOnlyStream::close(stream::EndReason why) {
  return console_->close(std::move(why));
}

void ViewOnlyStream::abort() noexcept { console_->abort(); }

std::optional<stream::EndReason> ViewOnlyStream::ending() const {
  if (!filter_.failed()) return std::nullopt;
  std::string text = filter_.error_text();
  if (text.size() > 123) text.resize(123);  // the WebSocket close reason's limit
  return stream::EndReason{1008, std::move(text)};
}

}  // namespace cgw::rfb
