#include "token/token.hpp"

#include <boost/json.hpp>

#include <stdexcept>

#include "token/base64url.hpp"
#include "token/key_material.hpp"
#include "token/subject.hpp"

namespace cgw::token {
namespace {

// Far beyond any sensible console token, and small enough that iat + ttl
// cannot overflow.
constexpr std::chrono::seconds max_mint_ttl = std::chrono::hours(24 * 366 * 10);

}  // namespace

std::string mint(const SigningKey& key, const MintRequest& request) {
  namespace json = boost::json;
  if (!detail::valid_host_id(request.host_id)) {
    throw std::invalid_argument("host id must match [A-Za-z0-9_]+");
  }
  const auto uuid = detail::normalise_uuid(request.uuid);
  if (!uuid) throw std::invalid_argument("uuid must be 8-4-4-4-12 hex digits");
  const bool serial = request.console == ConsoleKind::serial;
  if (request.device && (!serial || !valid_device_name(*request.device))) {
    throw std::invalid_argument(serial ? "device must match [A-Za-z0-9_.-]{1,64}"
                                       : "a device needs console serial");
  }
  if (request.force && !serial) throw std::invalid_argument("force needs console serial");
  if (request.ttl <= std::chrono::seconds::zero() || request.ttl > max_mint_ttl) {
    throw std::invalid_argument("ttl must be between 1 second and 10 years");
  }

  const auto issued_at =
      std::chrono::floor<std::chrono::seconds>(request.now).time_since_epoch().count();

  json::object header;
  header["alg"] = algorithm_name(key.algorithm());
  header["typ"] = "JWT";

  json::object claims;
  claims["sub"] = request.host_id + "-" + *uuid;
  claims["iat"] = issued_at;
  claims["exp"] = issued_at + request.ttl.count();
  if (request.console) claims["console"] = console_kind_name(*request.console);
  if (request.view_only) claims["view_only"] = true;
  if (request.record) claims["record"] = true;
  if (request.audience) claims["aud"] = *request.audience;
  if (request.jti) claims["jti"] = *request.jti;
  if (request.device) claims["device"] = *request.device;
  if (request.force) claims["force"] = true;

  const std::string signing_input = detail::base64url_encode(json::serialize(header)) + "." +
                                    detail::base64url_encode(json::serialize(claims));
  return signing_input + "." +
         detail::base64url_encode(detail::create_signature(key.impl().key, signing_input));
}

}  // namespace cgw::token
