#include "gateway/console_page.hpp"

#include <cstdio>

namespace cgw::gateway {

extern const char* const console_page_html;  // generated from web/console.html

std::string json_string_for_html(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string render(const ConsolePage& page) {
  std::string config = "{\"base\":" + json_string_for_html(page.base_path) +
                       ",\"console\":" + json_string_for_html(page.console) +
                       ",\"name\":" + json_string_for_html(page.name);
  if (page.view_only) config += ",\"viewOnly\":true";
  if (page.refused) {
    config += ",\"refused\":{\"code\":" + std::to_string(page.refused->code) +
              ",\"reason\":" + json_string_for_html(page.refused->reason) + "}";
  }
  config += "}";
  std::string html = console_page_html;
  const std::string placeholder = "{{CONFIG}}";
  if (const auto at = html.find(placeholder); at != std::string::npos) {
    html.replace(at, placeholder.size(), config);
  }
  return html;
}

}  // namespace cgw::gateway
