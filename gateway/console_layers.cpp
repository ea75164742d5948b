#include "gateway/console_layers.hpp"

namespace cgw::gateway {

std::unique_ptr<stream::ByteStream> wrap_console(std::unique_ptr<stream::ByteStream> console,
                                                 const ConsoleTarget& /*target*/) {
  return console;
}

}  // namespace cgw::gateway
