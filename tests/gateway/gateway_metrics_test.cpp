// The gateway's metrics as a SessionEvents listener, and the bounded keys of
// token rejections, taken from the real verifier's answers.
#include "gateway/gateway_metrics.hpp"

#include "libvirt_adapter/hypervisors.hpp"
#include "tests/support/scratch.hpp"
#include "token/token.hpp"
#include "tunnel/ssh_tunnels.hpp"

#include <gtest/gtest.h>
#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>

#include <string>

namespace cgw::gateway {
namespace {

using namespace std::chrono_literals;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(TokenRejectionKey, EveryRejectionOfTheVerifierHasItsOwnKey) {
  test::Scratch scratch;
  const auto signer = token::SigningKey::load_file(scratch.hs256_secret("token.key"));
  const auto other = token::SigningKey::load_file(scratch.hs256_secret("other.key"));
  token::Policy policy;
  policy.audience = "console-gw";
  const token::Verifier verifier(token::VerificationKey::load_file(scratch.path("token.key")),
                                 policy);
  const auto now = std::chrono::system_clock::now();
  const auto mint = [&](const token::SigningKey& key, std::chrono::seconds ttl,
                        std::optional<std::string> audience, std::chrono::seconds age = 0s) {
    token::MintRequest request;
    request.host_id = "kvm01";
    request.uuid = "6dd411c6-8710-48b0-bea0-e273ebd176c6";
    request.ttl = ttl;
    request.audience = std::move(audience);
    request.now = now - age;
    return token::mint(key, request);
  };
  const auto key_of = [&](const std::string& token) {
    const token::VerifyResult result = verifier.verify(token, now);
    EXPECT_FALSE(result) << "accepted";
    return std::string(token_rejection_key(result.rejection.reason));
  };
  EXPECT_EQ(key_of("not-a-token"), "malformed");
  EXPECT_EQ(key_of(std::string(5000, 'a')), "too_long");
  EXPECT_EQ(key_of(mint(other, 60s, "console-gw")), "bad_signature");
  EXPECT_EQ(key_of(mint(signer, 60s, "console-gw", 3600s)), "expired");
  EXPECT_EQ(key_of(mint(signer, 3600s, "console-gw")), "ttl_too_long");
  EXPECT_EQ(key_of(mint(signer, 60s, "someone-else")), "wrong_audience");
  EXPECT_EQ(key_of(mint(signer, 60s, std::nullopt)), "wrong_audience");
  EXPECT_EQ(token_rejection_key("missing token"), "missing");
  EXPECT_EQ(token_rejection_key("anything new"), "other");
}

TEST(GatewayMetrics, EventsMoveTheirCounters) {
  libvirt::Hypervisors hypervisors({{"kvm01", "test:///default", false}}, {});
  metrics::Registry registry;
  GatewayMetrics gateway(registry, HostStateSources{hypervisors, nullptr, {"kvm01"}, {}}, "1.2.3");
  SessionEvents& events = gateway;

  SessionInfo s;
  s.id = 1;
  s.path = "ssh";
  ConsoleOpened opened;
  opened.setup = 30ms;
  events.connected(s, opened);
  std::string text = registry.expose();
  EXPECT_TRUE(has_line(text, "console_gw_sessions_active 1")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_sessions_total{outcome=\"connected\"} 1")) << text;
  EXPECT_TRUE(
      has_line(text, "console_gw_session_setup_seconds_bucket{path=\"ssh\",le=\"0.025\"} 0"))
      << text;
  EXPECT_TRUE(has_line(text, "console_gw_session_setup_seconds_bucket{path=\"ssh\",le=\"0.05\"} 1"))
      << text;
  EXPECT_TRUE(has_line(text, "console_gw_session_setup_seconds_count{path=\"direct\"} 0")) << text;

  SessionEnded end;
  end.cause = boost::asio::error::eof;
  end.to_console = 100;
  end.to_client = 20000;
  end.duration = 5s;
  events.ended(s, end);
  events.refused(s, Refused{Refusal::token_expired, "token expired", {}});
  events.refused(s, Refused{Refusal::invalid_token, "bad signature", {}});
  events.refused(s, Refused{Refusal::console_unreachable, "console unreachable", "detail"});
  events.page_served(s, ConsoleKind::vnc);

  text = registry.expose();
  EXPECT_TRUE(has_line(text, "console_gw_sessions_active 0")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_sessions_total{outcome=\"ended\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_sessions_total{outcome=\"refused\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_sessions_total{outcome=\"page\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_session_bytes_total{direction=\"to_console\"} 100"));
  EXPECT_TRUE(has_line(text, "console_gw_session_bytes_total{direction=\"to_client\"} 20000"));
  EXPECT_TRUE(has_line(text, "console_gw_refusals_total{code=\"4402\",reason=\"token_expired\"} 1"))
      << text;
  EXPECT_TRUE(
      has_line(text, "console_gw_refusals_total{code=\"4504\",reason=\"console_unreachable\"} 1"))
      << text;
  EXPECT_TRUE(has_line(text, "console_gw_token_rejections_total{reason=\"expired\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_token_rejections_total{reason=\"bad_signature\"} 1"));
  EXPECT_TRUE(has_line(text, "console_gw_token_rejections_total{reason=\"malformed\"} 0"));
  EXPECT_TRUE(has_line(text, "console_gw_session_duration_seconds_count 1")) << text;
  // Not yet used: no libvirt connection. No SSH host: no SSH family.
  EXPECT_TRUE(has_line(text, "console_gw_libvirt_connected{host=\"kvm01\"} 0")) << text;
  EXPECT_EQ(text.find("console_gw_ssh_connected"), std::string::npos);
  EXPECT_TRUE(has_line(text, "console_gw_build_info{version=\"1.2.3\"} 1")) << text;
  EXPECT_NE(text.find("\nprocess_start_time_seconds "), std::string::npos);
}

// Only hosts with SSH have an SSH series, read from the SshTunnels at each scrape.
TEST(GatewayMetrics, SshStateOnlyForSshHosts) {
  boost::asio::io_context ioc;
  tunnel::SshTunnels tunnels(ioc.get_executor());
  libvirt::Hypervisors hypervisors(
      {{"kvm01", "test:///default", false}, {"kvm02", "test:///default", false}}, {});
  metrics::Registry registry;
  GatewayMetrics gateway(
      registry, HostStateSources{hypervisors, &tunnels, {"kvm01", "kvm02"}, {"kvm02"}}, "1.2.3");
  const std::string text = registry.expose();
  EXPECT_TRUE(has_line(text, "console_gw_ssh_connected{host=\"kvm02\"} 0")) << text;
  EXPECT_EQ(text.find("console_gw_ssh_connected{host=\"kvm01\"}"), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "console_gw_libvirt_connected{host=\"kvm01\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "console_gw_libvirt_connected{host=\"kvm02\"} 0")) << text;
  tunnels.shutdown();
}

TEST(MetricsEndpoint, OnlyTheListedPeersAndNoneWhenOff) {
  metrics::Registry registry;
  MetricsEndpoint endpoint;
  endpoint.allow = {*parse_cidr("127.0.0.0/8"), *parse_cidr("::1/128")};
  const auto address = [](const char* text) { return boost::asio::ip::make_address(text); };
  EXPECT_FALSE(endpoint.allows(address("127.0.0.1"))) << "no registry: metrics are off";
  endpoint.registry = &registry;
  EXPECT_TRUE(endpoint.allows(address("127.0.0.1")));
  EXPECT_TRUE(endpoint.allows(address("127.1.2.3")));
  EXPECT_TRUE(endpoint.allows(address("::1")));
  EXPECT_TRUE(endpoint.allows(address("::ffff:127.0.0.1")));
  EXPECT_FALSE(endpoint.allows(address("10.0.0.5")));
  EXPECT_FALSE(endpoint.allows(address("::2")));
}

}  // namespace
}  // namespace cgw::gateway
