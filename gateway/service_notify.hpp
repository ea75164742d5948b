// The service manager's side of a Type=notify unit (systemd's sd_notify): the
// gateway says when it is ready, reloading and stopping. Without NOTIFY_SOCKET
// in the environment (not started by systemd, or the tests) each call does
// nothing. Any thread may call them; none blocks.
#pragma once

#include <string_view>

namespace cgw::gateway::service_notify {

// READY=1 with a STATUS= line for `systemctl status`: the listener is bound,
// or a reload has finished (whether it applied the new configuration or not).
void ready(std::string_view status);
// RELOADING=1: a reload (SIGHUP) has begun; ready() follows when it ends.
void reloading();
// STOPPING=1: a stop (SIGTERM, SIGINT) has begun.
void stopping();

}  // namespace cgw::gateway::service_notify
