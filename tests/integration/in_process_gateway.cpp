#include "in_process_gateway.hpp"

#include "tests/support/metrics.hpp"
#include "tests/support/tokens.hpp"

#include <tuple>
#include <utility>

namespace cgw::test {

using namespace std::chrono_literals;

InProcessGateway::InProcessGateway(const std::function<void(gateway::Config&)>& adjust,
                                   std::uint16_t console_port, Tls tls) {
  secret_ = scratch_.hs256_secret("token.key");
  gateway::Config config;
  config.listen = "127.0.0.1";
  config.port = 0;
  config.threads = 2;  // two network threads (sessions handed between them), on any machine
  config.token_key_file = secret_;
  if (tls == Tls::on) std::tie(config.cert, config.key) = scratch_.tls_certificate("tls");
  gateway::HostConfig fake;
  fake.id = "fake";
  fake.uri = "test://" +
             scratch_.write(
                 "node.xml",
                 test_driver_node(console_port == 0 ? echo_.port() : console_port, closed_.port()));
  fake.vnc_security_gateway = false;  // the echo console speaks no RFB
  config.hosts = {fake};
  if (adjust) adjust(config);
  gateway::finish_config(config);
  config_ = config;
  server_.emplace(std::move(config));
  server_->start();
  serving_ = std::thread([this] { server_->run(); });
}

InProcessGateway::~InProcessGateway() {
  if (!serving_.joinable()) return;  // the test stopped it already
  server_->stop();
  serving_.join();
}

std::string InProcessGateway::token(const std::string& key_file) const {
  return mint_token(key_file.empty() ? secret_ : key_file);
}

std::unique_ptr<WsClient> InProcessGateway::client(const std::string& key_file) const {
  return console_client(port(), token(key_file));
}

std::unique_ptr<WsClient> InProcessGateway::tls_client(const std::string& ca_file) const {
  WsOptions o;
  o.port = port();
  o.target = "/websockify?token=" + token();
  o.tls = true;
  o.ca_file = ca_file;
  return WsClient::connect(o);
}

int InProcessGateway::status_for(const std::string& key_file) const {
  return http_get(port(), "/websockify?token=" + token(key_file)).status;
}

std::optional<double> InProcessGateway::active() const {
  return sessions_active(http_get(port(), "/metrics").body);
}

bool InProcessGateway::none_active_within(std::chrono::milliseconds limit) const {
  return test::none_active_within([this] { return active(); }, limit);
}

double InProcessGateway::metric(const std::string& series, double expected) const {
  double value = -1;
  for (int i = 0; i < 40; ++i) {
    value = metric_value(http_get(port(), "/metrics").body, series).value_or(-1);
    if (value == expected) break;
    std::this_thread::sleep_for(50ms);
  }
  return value;
}

void InProcessGateway::wait_stopped() {
  if (serving_.joinable()) serving_.join();
}

}  // namespace cgw::test
