#include "websocket/handshake.hpp"

#include <boost/beast/http/field.hpp>

#include <openssl/evp.h>

#include <array>

namespace cgw::websocket {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// A valid key is the base64 of 16 bytes: 22 characters and "==".
bool valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (const char c : key.substr(0, 22)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

http::response<http::string_body> refusal(const UpgradeRequest& req, http::status status,
                                          std::string body) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "console-gw");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.keep_alive(false);
  res.body() = std::move(body) + "\n";
  res.prepare_payload();
  return res;
}

}  // namespace

std::string websocket_accept_key(std::string_view key) {
  std::string input(key);
  input += guid;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr);
  std::array<unsigned char, 64> encoded{};
  const int n = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(n));
}

std::optional<http::response<http::string_body>> handshake_refusal(const UpgradeRequest& req) {
  if (req[http::field::sec_websocket_version] != "13") {
    auto res = refusal(req, http::status::upgrade_required, "WebSocket version 13 required");
    res.set(http::field::sec_websocket_version, "13");
    return res;
  }
  if (!valid_key(req[http::field::sec_websocket_key])) {
    return refusal(req, http::status::bad_request, "bad Sec-WebSocket-Key");
  }
  return std::nullopt;
}

http::response<http::empty_body> switching_protocols(const UpgradeRequest& req) {
  http::response<http::empty_body> res{http::status::switching_protocols, 11};
  res.set(http::field::server, "console-gw");
  res.set(http::field::upgrade, "websocket");
  res.set(http::field::connection, "Upgrade");
  res.set(http::field::sec_websocket_accept,
          websocket_accept_key(req[http::field::sec_websocket_key]));
  if (offers_binary(req[http::field::sec_websocket_protocol])) {
    res.set(http::field::sec_websocket_protocol, "binary");
  }
  return res;
}

bool offers_binary(std::string_view header) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "binary") return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace cgw::websocket
