// The HTTP answers built from plain data: text_response, refusal_response (each
// Refusal's status) and console_page_response (the popup page or its refusal).
#include <gtest/gtest.h>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <ostream>
#include <string>
#include <string_view>

#include "gateway/console_page.hpp"
#include "gateway/responses.hpp"

namespace cgw::gateway {
namespace {

namespace http = boost::beast::http;

Request request(http::verb method, unsigned version = 11, bool keep_alive = true) {
  Request req{method, "/", version};
  req.keep_alive(keep_alive);
  return req;
}

std::string header(const TextResponse& res, http::field field) { return std::string(res[field]); }

// ---------------------------------------------------------------------------
// text_response

TEST(ResponsesText, BodyWithNewlineNeverCached) {
  const TextResponse res = text_response(request(http::verb::get), http::status::ok, "ok");
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res.body(), "ok\n");
  EXPECT_EQ(header(res, http::field::content_type), "text/plain; charset=utf-8");
  EXPECT_EQ(header(res, http::field::cache_control), "no-store");
  EXPECT_EQ(header(res, http::field::server), "console-gw");
  EXPECT_EQ(header(res, http::field::content_length), "3");
  EXPECT_EQ(res.version(), 11u);
  EXPECT_TRUE(res.keep_alive());
}

TEST(ResponsesText, HeadHasNoBodyButTheLength) {
  const TextResponse res =
      text_response(request(http::verb::head), http::status::not_found, "not found");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(res.body(), "");
  EXPECT_EQ(header(res, http::field::content_length), "10");
}

TEST(ResponsesText, FollowsTheRequestsVersionAndKeepAlive) {
  const TextResponse res =
      text_response(request(http::verb::get, 10, false), http::status::bad_request, "bad");
  EXPECT_EQ(res.version(), 10u);
  EXPECT_FALSE(res.keep_alive());
  const TextResponse closing =
      text_response(request(http::verb::get, 11, false), http::status::ok, "ok");
  EXPECT_FALSE(closing.keep_alive());
}

// ---------------------------------------------------------------------------
// refusal_response

struct StatusRow {
  const char* name;
  Refusal refusal;
  const char* reason;
  http::status status;
};

void PrintTo(const StatusRow& row, std::ostream* os) { *os << row.name; }

// clang-format off
const StatusRow status_rows[] = {
  {"InvalidToken",          Refusal::invalid_token, "missing token", http::status::unauthorized},
  {"TokenExpired",          Refusal::token_expired, "token expired", http::status::unauthorized},
  {"OriginNotAllowed",      Refusal::origin_not_allowed, "origin not allowed", http::status::forbidden},
  {"UnknownHostOrDomain",   Refusal::unknown_host_or_domain, "unknown domain", http::status::not_found},
  {"NoConsole",             Refusal::no_console, "domain not running", http::status::conflict},
  {"HypervisorUnreachable", Refusal::hypervisor_unreachable, "hypervisor timed out", http::status::bad_gateway},
  {"ConsoleUnreachable",    Refusal::console_unreachable, "console unreachable", http::status::gateway_timeout},
};
// clang-format on

class RefusalResponseTable : public ::testing::TestWithParam<StatusRow> {};

TEST_P(RefusalResponseTable, StatusAndWords) {
  const StatusRow& row = GetParam();
  const Refused refused{row.refusal, row.reason, "log-only-xyzzy"};
  const TextResponse res = refusal_response(request(http::verb::get), refused);
  EXPECT_EQ(res.result(), row.status);
  EXPECT_EQ(res.result_int(), http_status(row.refusal));
  EXPECT_EQ(res.body(), std::string(row.reason) + "\n");
  EXPECT_EQ(res.body().find("xyzzy"), std::string::npos);
  EXPECT_EQ(header(res, http::field::content_type), "text/plain; charset=utf-8");

  const TextResponse head = refusal_response(request(http::verb::head), refused);
  EXPECT_EQ(head.result(), row.status);
  EXPECT_EQ(head.body(), "");
}

INSTANTIATE_TEST_SUITE_P(Responses, RefusalResponseTable, ::testing::ValuesIn(status_rows),
                         [](const ::testing::TestParamInfo<StatusRow>& p) { return p.param.name; });

// ---------------------------------------------------------------------------
// console_page_response

Decision authorised(ConsoleKind kind, std::string name) {
  Decision d;
  d.target = ConsoleTarget{};
  d.target->console = kind;
  d.domain_name = std::move(name);
  return d;
}

Decision refused(Refusal code, std::string reason, std::string name) {
  Decision d;
  d.refused = Refused{code, std::move(reason), "log-only-xyzzy"};
  d.domain_name = std::move(name);
  return d;
}

void expect_page_headers(const TextResponse& res) {
  EXPECT_EQ(header(res, http::field::content_type), "text/html; charset=utf-8");
  EXPECT_EQ(header(res, http::field::cache_control), "no-store");
  EXPECT_EQ(res["Referrer-Policy"], "no-referrer");
  EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
  const std::string csp(res["Content-Security-Policy"]);
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("base-uri 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  // The inline script by its hash, never any inline script.
  EXPECT_NE(csp.find("script-src 'self' 'sha256-"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("script-src 'self' 'unsafe-inline'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'self'"), std::string::npos) << csp;
}

TEST(ResponsesConsolePage, AuthorisedIs200WithTheDomainsNameAsTitle) {
  const TextResponse res = console_page_response(
      request(http::verb::get), authorised(ConsoleKind::spice, "web01"), "/console-gw");
  EXPECT_EQ(res.result(), http::status::ok);
  expect_page_headers(res);
  const std::string& body = res.body();
  EXPECT_NE(body.find("<title>Console</title>"), std::string::npos);
  // The page's script sets document.title from "name".
  EXPECT_NE(body.find(R"({"base":"/console-gw","console":"spice","name":"web01"})"),
            std::string::npos)
      << body.substr(0, 400);
  EXPECT_EQ(body.find("\"refused\""), std::string::npos);
  EXPECT_EQ(body.find("{{CONFIG}}"), std::string::npos);
  EXPECT_EQ(header(res, http::field::content_length), std::to_string(body.size()));
}

TEST(ResponsesConsolePage, VncConsole) {
  const TextResponse res =
      console_page_response(request(http::verb::get), authorised(ConsoleKind::vnc, "db"), "");
  EXPECT_NE(res.body().find(R"({"base":"","console":"vnc","name":"db"})"), std::string::npos);
}

TEST(ResponsesConsolePage, NameIsEscapedForTheScript) {
  const TextResponse res = console_page_response(
      request(http::verb::get), authorised(ConsoleKind::vnc, "a</script><b>\"&"), "");
  EXPECT_EQ(res.body().find("a</script>"), std::string::npos);
  EXPECT_NE(res.body().find(R"("name":"a\u003c/script\u003e\u003cb\u003e\"\u0026")"),
            std::string::npos);
}

TEST(ResponsesConsolePage, RefusalHasItsStatusCodeAndWords) {
  const TextResponse res = console_page_response(
      request(http::verb::get), refused(Refusal::no_console, "domain not running", "stopped"), "");
  EXPECT_EQ(res.result(), http::status::conflict);
  expect_page_headers(res);
  EXPECT_NE(
      res.body().find(
          R"({"base":"","console":"","name":"stopped","refused":{"code":4409,"reason":"domain not running"}})"),
      std::string::npos);
  EXPECT_EQ(res.body().find("xyzzy"), std::string::npos);
}

TEST(ResponsesConsolePage, RefusalBeforeTheDomainIsKnownHasNoName) {
  const TextResponse res = console_page_response(
      request(http::verb::get), refused(Refusal::token_expired, "token expired", ""), "/gw");
  EXPECT_EQ(res.result(), http::status::unauthorized);
  EXPECT_NE(
      res.body().find(
          R"({"base":"/gw","console":"","name":"","refused":{"code":4402,"reason":"token expired"}})"),
      std::string::npos);
}

TEST(ResponsesConsolePage, EveryRefusalsStatus) {
  for (const StatusRow& row : status_rows) {
    const TextResponse res =
        console_page_response(request(http::verb::get), refused(row.refusal, row.reason, ""), "");
    EXPECT_EQ(res.result(), row.status) << row.name;
  }
}

TEST(ResponsesConsolePage, HeadHasNoBody) {
  const Decision d = authorised(ConsoleKind::vnc, "web01");
  const TextResponse get = console_page_response(request(http::verb::get), d, "");
  const TextResponse head = console_page_response(request(http::verb::head), d, "");
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_EQ(head.body(), "");
  expect_page_headers(head);
  EXPECT_EQ(header(head, http::field::content_length), std::to_string(get.body().size()));

  const TextResponse head_refused =
      console_page_response(request(http::verb::head),
                            refused(Refusal::origin_not_allowed, "origin not allowed", ""), "");
  EXPECT_EQ(head_refused.result(), http::status::forbidden);
  EXPECT_EQ(head_refused.body(), "");
}

TEST(ResponsesConsolePage, KeepAliveFollowsTheRequest) {
  const Decision d = authorised(ConsoleKind::vnc, "web01");
  EXPECT_TRUE(console_page_response(request(http::verb::get), d, "").keep_alive());
  EXPECT_FALSE(console_page_response(request(http::verb::get, 11, false), d, "").keep_alive());
}

// The policy names the page's one script by a SHA-256 hash (the browser tests
// prove a browser runs it under that policy); the config block is data only.
TEST(ResponsesConsolePage, ScriptHashMatchesThePagesModuleScript) {
  const std::string html = render(ConsolePage{});
  const std::string open = "<script type=\"module\">";
  const auto start = html.find(open);
  ASSERT_NE(start, std::string::npos);
  const std::string script =
      html.substr(start + open.size(), html.find("</script>", start) - start - open.size());
  EXPECT_EQ(html.find("<script", start + 1), std::string::npos) << "a second script block";
  const std::string hash(console_page_script_hash());
  ASSERT_TRUE(hash.starts_with("'sha256-") && hash.ends_with("'")) << hash;
  EXPECT_EQ(hash.size(), std::string("'sha256-'").size() + 44) << hash;
  EXPECT_NE(script.find("WebSocket"), std::string::npos);
}

TEST(ResponsesConsolePage, FramedBySelfAndTheAllowedOrigins) {
  const TextResponse res = console_page_response(
      request(http::verb::get), authorised(ConsoleKind::vnc, "db"), "",
      {"https://UI.example.com:443", "http://10.0.0.1:8080", "not an origin"});
  const std::string csp(res["Content-Security-Policy"]);
  EXPECT_TRUE(csp.ends_with("frame-ancestors 'self' https://ui.example.com http://10.0.0.1:8080"))
      << csp;
}

TEST(ResponsesHeaders, EveryAnswerSaysNosniffAndNoReferrer) {
  const TextResponse text = text_response(request(http::verb::get), http::status::ok, "ok");
  const auto file = file_header(request(http::verb::get), "text/html; charset=utf-8");
  const auto empty = no_content_response(request(http::verb::get));
  for (const auto* fields :
       {static_cast<const http::fields*>(&text.base()), static_cast<const http::fields*>(&file),
        static_cast<const http::fields*>(&empty.base())}) {
    EXPECT_EQ((*fields)["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ((*fields)["Referrer-Policy"], "no-referrer");
  }
  const std::string csp(file["Content-Security-Policy"]);
  EXPECT_NE(csp.find("object-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'self'"), std::string::npos) << csp;
}

}  // namespace
}  // namespace cgw::gateway
