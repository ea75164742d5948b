// The popup console page served at <base>/console: one HTML page that opens
// noVNC or spice-html5 for the token's console, shows the domain's name, and
// turns close codes into sentences. Its text is gateway/web/console.html,
// compiled in so the executable is all there is to deploy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::gateway {

struct ConsolePage {
  std::string base_path;   // where the gateway is mounted ("" or "/prefix")
  std::string console;     // "vnc" | "spice"
  std::string name;        // the domain's name, for the title
  bool view_only = false;  // the token's view_only claim: the page says so
  struct Refusal {
    std::uint16_t code;
    std::string reason;
  };
  std::optional<Refusal> refused;  // set when the console can't be opened
};

std::string render(const ConsolePage& page);

// "'sha256-...'": the hash of the page's one inline <script type="module">, for
// its Content-Security-Policy (the JSON config block is data, not script).
std::string_view console_page_script_hash();

// JSON string contents safe inside a <script> element: quotes, backslashes,
// control characters and <, >, & are escaped.
std::string json_string_for_html(std::string_view text);

}  // namespace cgw::gateway
