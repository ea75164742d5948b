#include "token/token.hpp"

#include "token/subject.hpp"

namespace cgw::token {
namespace detail {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

bool valid_host_id(std::string_view host_id) {
  if (host_id.empty()) return false;
  for (const char c : host_id) {
    const bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> normalise_uuid(std::string_view uuid) {
  if (uuid.size() != 36) return std::nullopt;
  std::string out(uuid);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position) {
      if (out[i] != '-') return std::nullopt;
    } else {
      if (!is_hex(out[i])) return std::nullopt;
      // libvirt reports uuids in lower case; comparing them later must not
      // depend on how the web UI spelled one.
      if (out[i] >= 'A' && out[i] <= 'F') out[i] = static_cast<char>(out[i] - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace detail

std::string_view algorithm_name(Algorithm alg) {
  switch (alg) {
    case Algorithm::hs256:
      return "HS256";
    case Algorithm::es256:
      return "ES256";
    case Algorithm::eddsa:
      return "EdDSA";
    case Algorithm::rs256:
      return "RS256";
  }
  return "unknown";
}

std::optional<Claims> parse_subject(std::string_view subject) {
  // Host ids cannot contain '-', so the first one separates the halves even
  // though the uuid has four of its own.
  const auto dash = subject.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto host_id = subject.substr(0, dash);
  if (!detail::valid_host_id(host_id)) return std::nullopt;
  auto uuid = detail::normalise_uuid(subject.substr(dash + 1));
  if (!uuid) return std::nullopt;
  Claims claims;
  claims.host_id = std::string(host_id);
  claims.uuid = std::move(*uuid);
  return claims;
}

bool valid_device_name(std::string_view device) {
  if (device.empty() || device.size() > 64) return false;
  for (const char c : device) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cgw::token
