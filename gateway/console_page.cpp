#include "gateway/console_page.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <stdexcept>

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

namespace {

std::string script_hash(std::string_view html) {
  const std::string_view open = "<script type=\"module\">";
  const auto start = html.find(open);
  const auto end = html.find("</script>", start);
  if (start == std::string_view::npos || end == std::string_view::npos) {
    throw std::logic_error("console.html has no <script type=\"module\">");
  }
  const std::string_view script = html.substr(start + open.size(), end - start - open.size());
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(script.data(), script.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 of the console page's script failed");
  }
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> base64{};
  const int length = EVP_EncodeBlock(base64.data(), digest.data(), static_cast<int>(size));
  return "'sha256-" + std::string(reinterpret_cast<const char*>(base64.data()), length) + "'";
}

}  // namespace

std::string_view console_page_script_hash() {
  static const std::string hash = script_hash(console_page_html);
  return hash;
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
