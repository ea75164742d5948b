// WebSocketStream: the browser's end of a session as a ByteStream. Binary
// messages carry the console's bytes; message boundaries mean nothing.
// Owns the Beast WebSocket stream; used from the session's thread only.
#pragma once

#include "stream/byte_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <optional>

namespace cgw::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

template <class NextLayer>
class WebSocketStream final : public stream::ByteStream {
 public:
  explicit WebSocketStream(websocket::stream<NextLayer>& ws) : ws_(ws) {}

  net::awaitable<std::tuple<stream::error_code, std::size_t>> read_some(
      net::mutable_buffer buf) override {
    co_return co_await ws_.async_read_some(buf, net::as_tuple(net::use_awaitable));
  }

  net::awaitable<stream::error_code> write(net::const_buffer buf) override {
    auto [ec, n] = co_await ws_.async_write(buf, net::as_tuple(net::use_awaitable));
    (void)n;
    co_return ec;
  }

  net::awaitable<void> close(stream::EndReason why) override {
    if (!ws_.is_open()) co_return;
    if (override_) why = *override_;
    websocket::close_reason reason(static_cast<websocket::close_code>(why.code), why.text);
    co_await ws_.async_close(reason, net::as_tuple(net::use_awaitable));
  }

  void abort() noexcept override {
    stream::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(net::socket_base::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  // The reason the next close() gives, whatever the pump asks for (the gateway
  // is stopping: 1001). Call on the session's thread.
  void override_close_reason(stream::EndReason why) { override_ = std::move(why); }

 private:
  websocket::stream<NextLayer>& ws_;
  std::optional<stream::EndReason> override_;
};

}  // namespace cgw::gateway
