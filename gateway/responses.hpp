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
#include <vector>

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
// words under the matching HTTP status. With its Content-Security-Policy: its
// one inline script by hash, modules and WebSockets from its own origin only,
// framed by itself and `allowed_origins` (gateway.allowed_origins) only.
TextResponse console_page_response(const Request& req, const Decision& decision,
                                   std::string_view base_path,
                                   const std::vector<std::string>& allowed_origins = {});

// 200 with the file's type and size, for a GET or a HEAD of a static file; its
// Content-Security-Policy keeps noVNC's vnc.html (external scripts only) working.
boost::beast::http::response_header<> file_header(
    const Request& req, std::string_view content_type,
    const std::vector<std::string>& allowed_origins = {});

// 204 for /favicon.ico.
boost::beast::http::response<boost::beast::http::empty_body> no_content_response(
    const Request& req);

// "frame-ancestors 'self' https://ui.example.com ...": who may embed the gateway's pages.
std::string frame_ancestors(const std::vector<std::string>& allowed_origins);

}  // namespace cgw::gateway
