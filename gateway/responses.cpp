#include "gateway/responses.hpp"

#include "gateway/console_page.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace cgw::gateway {

namespace http = boost::beast::http;

TextResponse text_response(const Request& req, http::status status, std::string body) {
  TextResponse res{status, req.version()};
  res.set(http::field::server, "console-gw");
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
  res.set(http::field::server, "console-gw");
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
                                   std::string_view base_path) {
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
  res.set(http::field::server, "console-gw");
  res.set(http::field::content_type, "text/html; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Content-Type-Options", "nosniff");
  res.set(
      "Content-Security-Policy",
      "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
      "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'");
  res.keep_alive(req.keep_alive());
  res.body() = render(page);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

http::response_header<> file_header(const Request& req, std::string_view content_type) {
  http::response_header<> header;
  header.result(http::status::ok);
  header.version(req.version());
  header.set(http::field::server, "console-gw");
  header.set(http::field::content_type, content_type);
  header.set("X-Content-Type-Options", "nosniff");
  return header;
}

}  // namespace cgw::gateway
