// Base64url without padding (RFC 7515 section 2), the encoding of every JWS
// segment. Decoding is strict: only the 64 URL-safe characters, no '=', no
// whitespace, and the unused low bits of the last character must be zero, so
// each byte string has exactly one accepted encoding. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cgw::token::detail {

std::string base64url_encode(std::string_view bytes);

// nullopt when `text` is not canonical unpadded base64url.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace cgw::token::detail
