#include "tests/support/metrics.hpp"

#include <thread>

namespace cgw::test {

std::optional<double> metric_value(const std::string& metrics, const std::string& series) {
  // A series starts a line; the leading newline also finds it on the first.
  const std::string text = "\n" + metrics;
  const std::string start = "\n" + series + " ";
  const auto at = text.find(start);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + start.size()));
}

std::optional<double> sessions_active(const std::string& metrics) {
  return metric_value(metrics, "console_gw_sessions_active");
}

bool none_active_within(const std::function<std::optional<double>()>& active,
                        std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  do {
    if (active() == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

}  // namespace cgw::test
