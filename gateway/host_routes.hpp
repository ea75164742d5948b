// How the gateway reaches each configured host: its HostRoute (local or not,
// its address, the SSH settings of its tunnel), built from its HostConfig. The
// server routes consoles with it; `console-gw check` probes the same settings.
#pragma once

#include "gateway/config.hpp"
#include "tunnel/host_route.hpp"

namespace cgw::gateway {

tunnel::HostRoute make_route(const HostConfig& host);

}  // namespace cgw::gateway
