// Console layers: the one step between opening a console and pumping it, where
// protocol layers are put around the console's ByteStream. Each layer is a
// ByteStream that wraps another (an RFB security proxy that completes the VNC
// server's authentication, a view-only filter of the browser's input, a
// recorder), so the pump stays generic over the two streams it joins.
//
// Today no layer applies and the console goes to the pump as it was opened.
#pragma once

#include "gateway/authorize.hpp"
#include "stream/byte_stream.hpp"

#include <memory>

namespace cgw::gateway {

// Called on the session's thread, once per console, after it was opened.
std::unique_ptr<stream::ByteStream> wrap_console(std::unique_ptr<stream::ByteStream> console,
                                                 const ConsoleTarget& target);

}  // namespace cgw::gateway
