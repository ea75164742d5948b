// The two halves of a token subject, checked on their own. Internal to
// cgw::token: parse_subject() (token.hpp) and mint() share these rules.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cgw::token::detail {

// [A-Za-z0-9_]+
bool valid_host_id(std::string_view host_id);

// The uuid in lower case when `uuid` is 8-4-4-4-12 hex digits (either case).
std::optional<std::string> normalise_uuid(std::string_view uuid);

}  // namespace cgw::token::detail
