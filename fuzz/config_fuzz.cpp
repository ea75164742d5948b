// libFuzzer target: the gateway's configuration from TOML text
// (gateway::load_config_text, then finish_config, as `console-gw --config`
// does after reading the file). The seeds in corpus/config/ are the shipped
// etc/console-gw.toml and small files with every section and edge cases.
// Checked: a refusal is a ConfigError, never another exception, a crash or a
// hang; its message is one line (no control characters) that starts with the
// file's name.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/config.hpp"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "config_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string origin = "fuzz.toml";
  try {
    cgw::gateway::Config config = cgw::gateway::load_config_text(text, origin);
    cgw::gateway::finish_config(config);
    check(!config.hosts.empty(), "a finished config without hosts");
  } catch (const cgw::gateway::ConfigError& error) {
    const std::string_view message = error.what();
    check(message.starts_with(origin), "a config error that does not name the file");
    for (const char c : message) {
      const auto byte = static_cast<unsigned char>(c);
      check(byte >= 0x20 && byte != 0x7f, "a config error with a control character (not one line)");
    }
  }
  return 0;
}
