// What a reload (SIGHUP) can and cannot change. A reload applies the token key
// and policy, the TLS certificate and key, the log level and [hosts] (see
// Server::reload); every other setting is fixed while the gateway serves, and
// a change to it is reported rather than silently ignored.
#pragma once

#include <string>
#include <vector>

namespace cgw::gateway {

struct Config;

// The keys (as written in the file: "gateway.port") whose values
// differ between the running configuration and the one read afresh, among
// those that need a restart to change. Empty when a reload applies everything.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

}  // namespace cgw::gateway
