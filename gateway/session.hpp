// One client connection, from the first byte to the last: detect TLS, read the
// HTTP requests and route each (gateway/routing.hpp), then either answer it
// (health, static files, the console page, a refusal) or upgrade to a
// WebSocket, authorise (gateway/authorize.hpp), open the console with the
// opener of its kind, wrap it (gateway/console_layers.hpp) and pump. What
// happens is told to Services::events. Runs as coroutines on one network
// thread's io_context.
#pragma once

#include "stream/pump.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <exception>

namespace cgw::gateway {

struct Config;
struct Services;

// The completion of a session's coroutine: logs an exception that escaped it.
void report_session_end(std::exception_ptr error);

// What every console's pump runs with under `config` (Services::pump_options).
stream::PumpOptions session_pump_options(const Config& config);

boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, Services& services,
                                         std::uint64_t session_id);

}  // namespace cgw::gateway
