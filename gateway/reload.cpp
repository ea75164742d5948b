#include "gateway/reload.hpp"

#include "gateway/config.hpp"

namespace cgw::gateway {

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
  std::vector<std::string> changed;
  const auto note = [&changed](bool differs, const char* key) {
    if (differs) changed.emplace_back(key);
  };
  // The listening socket and the threads exist once.
  note(running.listen != next.listen, "gateway.listen");
  note(running.port != next.port, "gateway.port");
  note(running.threads != next.threads, "gateway.threads");
  // The admission counts and the sessions' limits are made at start.
  note(running.limits != next.limits, "limits");
  // What every session reads from the Config the Server was made with.
  note(running.public_host != next.public_host, "gateway.public_host");
  note(running.allowed_origins != next.allowed_origins, "gateway.allowed_origins");
  note(running.base_path != next.base_path, "gateway.base_path");
  note(running.web != next.web, "gateway.web");
  note(running.novnc_dir != next.novnc_dir, "gateway.novnc_dir");
  note(running.spice_dir != next.spice_dir, "gateway.spice_dir");
  note(running.xterm_dir != next.xterm_dir, "gateway.xterm_dir");
  note(running.static_link_roots != next.static_link_roots, "gateway.static_link_roots");
  note(running.ssl_only != next.ssl_only, "gateway.ssl_only");
  note(running.trusted_proxies != next.trusted_proxies, "gateway.trusted_proxies");
  note(running.forwarded_headers != next.forwarded_headers, "gateway.forwarded_headers");
  note(running.ping_interval != next.ping_interval, "gateway.ping_interval");
  note(running.libvirt_timeout != next.libvirt_timeout, "gateway.libvirt_timeout");
  note(running.libvirt_threads != next.libvirt_threads, "gateway.libvirt_threads");
  note(running.connect_timeout != next.connect_timeout, "gateway.connect_timeout");
  note(running.drain_timeout != next.drain_timeout, "gateway.drain_timeout");
  note(running.write_timeout != next.write_timeout, "gateway.write_timeout");
  // The recorder's writer is made at start; a host's record = true is reloaded.
  note(running.recording != next.recording, "recording");
  // The one-time tokens' store is made at start.
  note(running.replay_store != next.replay_store, "tokens.replay_store");
  note(running.replay_store_password_file != next.replay_store_password_file,
       "tokens.replay_store_password_file");
  note(running.replay_store_timeout != next.replay_store_timeout, "tokens.replay_store_timeout");
  // [hosts] is reloaded (gateway/host_set.hpp).
  return changed;
}

}  // namespace cgw::gateway
