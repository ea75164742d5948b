#include "gateway/service_notify.hpp"

#include "common/log.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>
#include <system_error>

namespace cgw::gateway::service_notify {
namespace {

constexpr log::Logger logger{"gateway"};

void send(const std::string& state) {
  // unset_environment = 0: a reload notifies again, so NOTIFY_SOCKET must stay.
  const int r = sd_notify(0, state.c_str());
  if (r < 0) logger.warn("cannot notify the service manager: ", std::system_category().message(-r));
}

}  // namespace

void ready(std::string_view status) { send("READY=1\nSTATUS=" + std::string(status)); }

void reloading() {
  // systemd (253 and later) pairs RELOADING=1 with the CLOCK_MONOTONIC time it
  // was sent at; older ones ignore the field.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                    static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void stopping() { send("STOPPING=1\nSTATUS=stopping"); }

}  // namespace cgw::gateway::service_notify
