// Reading a gateway's /metrics text in tests: one series' value, and the wait
// until no session is open. Used by the in-process Server's helper and by the
// spawned binary's (tests/faults/gateway_process.*), which fetch the text their
// own way (the binary's may live in a network namespace of its own).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace cgw::test {

// The value of `series` (a metric name with its labels, if any, exactly as the
// gateway writes them) in the Prometheus text `metrics`, or nullopt.
std::optional<double> metric_value(const std::string& metrics, const std::string& series);

// console_gw_sessions_active in the Prometheus text `metrics`, or nullopt.
std::optional<double> sessions_active(const std::string& metrics);

// Whether `active` (how many sessions are open, nullopt when unknown) says 0
// within `limit`, asking every 50 ms.
bool none_active_within(const std::function<std::optional<double>()>& active,
                        std::chrono::milliseconds limit);

}  // namespace cgw::test
