#include "gateway/responses.hpp"

#include "gateway/console_page.hpp"
#include "gateway/request_rules.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace cgw::gateway {

namespace http = boost::beast::http;

namespace {

// On every answer: the browser takes the declared type and never guesses one;
// and no Referer leaves a page whose URL carries a token.
template <class Fields>
void common_headers(Fields& fields) {
  fields.set(http::field::server, "console-gw");
  fields.set("X-Content-Type-Options", "nosniff");
  fields.set("Referrer-Policy", "no-referrer");
}

}  // namespace

std::string frame_ancestors(const std::vector<std::string>& allowed_origins) {
  std::string out = "frame-ancestors 'self'";
  for (const std::string& origin : allowed_origins) {
    // Normalised, so nothing but an origin reaches the header.
    if (auto normalized = normalize_origin(origin)) out += ' ' + *normalized;
  }
  return out;
}

TextResponse text_response(const Request& req, http::status status, std::string body) {
  TextResponse res{status, req.version()};
  common_headers(res);
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body) + "\n";
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

TextResponse exposition_response(const Request& req, std::string body,
                                 std::string_view content_type) {
  TextResponse res{http::status::ok, req.version()};
  common_headers(res);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

TextResponse refusal_response(const Request& req, const Refused& refused) {
  return text_response(req, static_cast<http::status>(http_status(refused.code)), refused.reason);
}

TextResponse console_page_response(const Request& req, const Decision& decision,
                                   std::string_view base_path,
                                   const std::vector<std::string>& allowed_origins) {
  ConsolePage page;
  page.base_path = base_path;
  page.name = decision.domain_name;
  http::status status = http::status::ok;
  if (decision.target) {
    page.console = std::string(console_kind_name(decision.target->console));
    page.view_only = decision.target->view_only;
  } else {
    page.refused = ConsolePage::Refusal{close_code(decision.refused.code), decision.refused.reason};
    status = static_cast<http::status>(http_status(decision.refused.code));
  }
  TextResponse res{status, req.version()};
  common_headers(res);
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  // The page's one inline script by its hash (no 'unsafe-inline'); noVNC and
  // spice-html5 as modules from this origin; 'self' in connect-src covers ws:
  // and wss: to this host (CSP Level 3), the proxy's when behind one.
  res.set("Content-Security-Policy",
          "default-src 'self'; script-src 'self' " + std::string(console_page_script_hash()) +
              "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " +
              frame_ancestors(allowed_origins));
  res.keep_alive(req.keep_alive());
  res.body() = render(page);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

http::response_header<> file_header(const Request& req, std::string_view content_type,
                                    const std::vector<std::string>& allowed_origins) {
  http::response_header<> header;
  header.result(http::status::ok);
  header.version(req.version());
  common_headers(header);
  header.set(http::field::content_type, content_type);
  // noVNC's vnc.html loads its scripts from files and sets styles inline; it
  // connects to the gateway it came from.
  header.set("Content-Security-Policy",
             "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
             "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; " +
                 frame_ancestors(allowed_origins));
  return header;
}

http::response<http::empty_body> no_content_response(const Request& req) {
  http::response<http::empty_body> res{http::status::no_content, req.version()};
  common_headers(res);
  res.keep_alive(req.keep_alive());
  return res;
}

}  // namespace cgw::gateway
