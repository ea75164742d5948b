// The HTTP answers the gateway gives, as messages built from plain data and
// written by the session: text answers (health, refusals, errors), the console
// page, and the header of a static file.
#pragma once

#include "gateway/authorize.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace cgw::gateway {

using Request = boost::beast::http::request<boost::beast::http::empty_body>;
using TextResponse = boost::beast::http::response<boost::beast::http::string_body>;

// `body` and a newline as text/plain, never cached; no body for HEAD.
TextResponse text_response(const Request& req, boost::beast::http::status status, std::string body);

// 200 with `body` (already ending in a newline) as `content_type`, never cached.
TextResponse exposition_response(const Request& req, std::string body,
                                 std::string_view content_type);

// A refusal as the matching HTTP status with the same words as its close reason.
TextResponse refusal_response(const Request& req, const Refused& refused);

// <base>/console: the popup page for the decision's console, or the refusal in
// words under the matching HTTP status. With its Content-Security-Policy.
TextResponse console_page_response(const Request& req, const Decision& decision,
                                   std::string_view base_path);

// 200 with the file's type and size, for a GET or a HEAD of a static file.
boost::beast::http::response_header<> file_header(const Request& req,
                                                  std::string_view content_type);

}  // namespace cgw::gateway
