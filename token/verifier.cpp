#include "token/token.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>

#include "token/base64url.hpp"
#include "token/key_material.hpp"

namespace cgw::token {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

// Every reason is a fixed phrase: nothing taken from the token can reach a log
// or a close frame through them.
constexpr std::string_view too_long = "token too long";
constexpr std::string_view malformed = "malformed token";
constexpr std::string_view alg_not_allowed = "algorithm not allowed";
constexpr std::string_view crit_header = "unsupported crit header";
constexpr std::string_view bad_typ = "bad typ header";
constexpr std::string_view bad_signature = "bad signature";
constexpr std::string_view bad_subject = "bad subject";
constexpr std::string_view missing_exp = "missing exp claim";
constexpr std::string_view bad_exp = "bad exp claim";
constexpr std::string_view bad_nbf = "bad nbf claim";
constexpr std::string_view bad_console = "bad console claim";
constexpr std::string_view bad_view_only = "bad view_only claim";
constexpr std::string_view bad_record = "bad record claim";
constexpr std::string_view bad_jti = "bad jti claim";
constexpr std::string_view bad_device = "bad device claim";
constexpr std::string_view device_not_serial = "device claim without console serial";
constexpr std::string_view bad_force = "bad force claim";
constexpr std::string_view force_not_serial = "force claim without console serial";
// A jti is an opaque ID; long ones would only fill the replay store.
constexpr std::size_t max_jti_length = 128;
constexpr std::string_view missing_aud = "missing aud claim";
constexpr std::string_view bad_aud = "bad aud claim";
constexpr std::string_view aud_mismatch = "audience mismatch";
constexpr std::string_view expired = "token expired";
constexpr std::string_view not_yet_valid = "token not yet valid";
constexpr std::string_view too_far_ahead = "token lifetime exceeds max_ttl";

// Header and payload are small flat objects; deeper nesting is not a token.
constexpr std::size_t max_json_depth = 8;

VerifyResult rejected(Failure failure, std::string_view reason) {
  VerifyResult result;
  result.rejection = Rejection{failure, std::string(reason)};
  return result;
}

VerifyResult invalid(std::string_view reason) { return rejected(Failure::invalid, reason); }

VerifyResult accepted(Claims claims) {
  VerifyResult result;
  result.claims = std::move(claims);
  return result;
}

json::value parse_json(std::string_view text, const json::storage_ptr& storage) {
  json::parse_options options;
  options.max_depth = max_json_depth;
  boost::system::error_code error;
  json::value value = json::parse(text, error, storage, options);
  if (error) return nullptr;
  return value;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// RFC 7519 NumericDate: seconds since the epoch, integral or not.
std::optional<double> numeric_date(const json::value& value) {
  switch (value.kind()) {
    case json::kind::int64:
      return static_cast<double>(value.get_int64());
    case json::kind::uint64:
      return static_cast<double>(value.get_uint64());
    case json::kind::double_:
      if (std::isfinite(value.get_double())) return value.get_double();
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// Whole seconds are converted exactly; only a fractional part goes through
// floating point, whose rounding would otherwise shift integral dates.
system_clock::time_point to_time_point(double numeric_date) {
  const double whole = std::floor(numeric_date);
  return system_clock::time_point(std::chrono::seconds(static_cast<std::int64_t>(whole))) +
         std::chrono::duration_cast<system_clock::duration>(
             std::chrono::duration<double>(numeric_date - whole));
}

// nullopt when "aud" names the audience; otherwise the reason to refuse.
std::optional<std::string_view> audience_problem(const json::value* aud,
                                                 std::string_view audience) {
  if (!aud) return missing_aud;
  if (aud->is_string()) {
    return aud->get_string() == audience ? std::nullopt : std::optional(aud_mismatch);
  }
  if (!aud->is_array()) return bad_aud;
  bool named = false;
  for (const auto& entry : aud->get_array()) {
    if (!entry.is_string()) return bad_aud;
    named = named || entry.get_string() == audience;
  }
  return named ? std::nullopt : std::optional(aud_mismatch);
}

VerifyResult check_claims(const json::object& payload, const Policy& policy,
                          system_clock::time_point now) {
  const auto* sub = payload.if_contains("sub");
  if (!sub || !sub->is_string()) return invalid(bad_subject);
  auto claims = parse_subject(sub->get_string());
  if (!claims) return invalid(bad_subject);

  const auto* exp_value = payload.if_contains("exp");
  if (!exp_value) return invalid(missing_exp);
  const auto exp = numeric_date(*exp_value);
  if (!exp) return invalid(bad_exp);

  std::optional<double> nbf;
  if (const auto* nbf_value = payload.if_contains("nbf")) {
    nbf = numeric_date(*nbf_value);
    if (!nbf) return invalid(bad_nbf);
  }

  if (const auto* console = payload.if_contains("console")) {
    if (!console->is_string()) return invalid(bad_console);
    const auto kind = parse_console_kind(console->get_string());
    if (!kind) return invalid(bad_console);
    claims->console = *kind;
  }
  const bool serial = claims->console == ConsoleKind::serial;
  if (const auto* device = payload.if_contains("device")) {
    if (!serial) return invalid(device_not_serial);
    if (!device->is_string() || !valid_device_name(device->get_string())) {
      return invalid(bad_device);
    }
    claims->device = std::string(device->get_string());
  }
  if (const auto* force = payload.if_contains("force")) {
    if (!serial) return invalid(force_not_serial);
    if (!force->is_bool()) return invalid(bad_force);
    claims->force = force->get_bool();
  }
  if (const auto* view_only = payload.if_contains("view_only")) {
    // A boolean only: a string "false" must not read as anything.
    if (!view_only->is_bool()) return invalid(bad_view_only);
    claims->view_only = view_only->get_bool();
  }
  if (const auto* record = payload.if_contains("record")) {
    if (!record->is_bool()) return invalid(bad_record);
    claims->record = record->get_bool();
  }
  if (const auto* jti = payload.if_contains("jti")) {
    if (!jti->is_string() || jti->get_string().empty() ||
        jti->get_string().size() > max_jti_length) {
      return invalid(bad_jti);
    }
    claims->jti = std::string(jti->get_string());
  }

  if (policy.audience) {
    if (const auto problem = audience_problem(payload.if_contains("aud"), *policy.audience)) {
      return invalid(*problem);
    }
  }

  // Time checks come last so that a token which is wrong in any other way is
  // reported as invalid (4401) rather than as merely expired (4402).
  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  const auto leeway = static_cast<double>(policy.leeway.count());
  const auto max_ttl = static_cast<double>(policy.max_ttl.count());
  if (now_seconds >= *exp + leeway) return rejected(Failure::expired, expired);
  // Bounding exp also keeps it within what system_clock can represent.
  const double latest = std::chrono::duration<double>(system_clock::duration::max()).count() / 2;
  if (*exp > now_seconds + max_ttl + leeway || *exp >= latest) return invalid(too_far_ahead);
  if (nbf && *nbf > now_seconds + leeway) return invalid(not_yet_valid);

  claims->expires = to_time_point(*exp);
  return accepted(std::move(*claims));
}

VerifyResult verify_jws(const detail::KeyMaterial& key, const Policy& policy,
                        std::string_view token, system_clock::time_point now) {
  const auto first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return invalid(malformed);
  const auto second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos) return invalid(malformed);
  if (token.find('.', second_dot + 1) != std::string_view::npos) return invalid(malformed);

  const auto header_text = detail::base64url_decode(token.substr(0, first_dot));
  const auto payload_text =
      detail::base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1));
  const auto signature = detail::base64url_decode(token.substr(second_dot + 1));
  if (!header_text || !payload_text || !signature) return invalid(malformed);

  // Both documents together are smaller than the capped token, so this buffer
  // usually holds them and parsing allocates nothing.
  unsigned char buffer[4096];
  json::monotonic_resource resource(buffer, sizeof buffer);
  const json::storage_ptr storage(&resource);

  const json::value header = parse_json(*header_text, storage);
  if (!header.is_object()) return invalid(malformed);
  const auto* alg = header.get_object().if_contains("alg");
  if (!alg || !alg->is_string()) return invalid(malformed);
  // The key alone decides the algorithm. Taking it from the token would let
  // "none", or HS256 keyed with an RSA public key, pass as signed.
  if (alg->get_string() != algorithm_name(key.algorithm)) return invalid(alg_not_allowed);
  // A critical extension is one we would have to understand; we understand none.
  if (header.get_object().contains("crit")) return invalid(crit_header);
  if (const auto* typ = header.get_object().if_contains("typ")) {
    if (!typ->is_string() || !equals_ignoring_case(typ->get_string(), "JWT")) {
      return invalid(bad_typ);
    }
  }

  // The signature covers the segments exactly as sent, not a re-encoding.
  if (!detail::verify_signature(key, token.substr(0, second_dot), *signature)) {
    return invalid(bad_signature);
  }

  const json::value payload = parse_json(*payload_text, storage);
  if (!payload.is_object()) return invalid(malformed);
  return check_claims(payload.get_object(), policy, now);
}

}  // namespace

Verifier::Verifier(VerificationKey key, Policy policy)
    : key_(std::make_unique<VerificationKey>(std::move(key))), policy_(std::move(policy)) {}

Verifier Verifier::plain() { return Verifier(); }

VerifyResult Verifier::verify(std::string_view token, system_clock::time_point now) const {
  // Before any decoding, so an oversized token costs no more than this check.
  if (token.size() > policy_.max_token_length) return invalid(too_long);
  if (!key_) {
    auto claims = parse_subject(token);
    if (!claims) return invalid(bad_subject);
    return accepted(std::move(*claims));
  }
  return verify_jws(key_->impl().key, policy_, token, now);
}

Verifier::~Verifier() = default;
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;

}  // namespace cgw::token
