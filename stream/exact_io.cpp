#include "stream/exact_io.hpp"

namespace cgw::stream {

namespace net = boost::asio;

net::awaitable<error_code> read_exact(ByteStream& s, std::span<std::uint8_t> buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    if (s.can_wait_readable()) {
      if (const error_code ec = co_await s.wait_readable()) co_return ec;
    }
    auto [ec, n] = co_await s.read_some(net::buffer(buf.data() + got, buf.size() - got));
    if (ec) co_return ec;
    got += n;
  }
  co_return error_code{};
}

net::awaitable<error_code> write_all(ByteStream& s, std::span<const std::uint8_t> buf) {
  co_return co_await s.write(net::buffer(buf.data(), buf.size()));
}

}  // namespace cgw::stream
