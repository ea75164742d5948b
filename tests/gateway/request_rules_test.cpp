// Where a request's token is, and whether its Origin may open a console.
#include <gtest/gtest.h>
#include <boost/url/parse.hpp>

#include <iterator>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/request_rules.hpp"

namespace cgw::gateway {
namespace {

// ---------------------------------------------------------------------------
// find_token

struct TokenRow {
  const char* name;
  std::string_view target;
  std::string_view cookie;
  std::optional<std::string_view> token;
};

void PrintTo(const TokenRow& row, std::ostream* os) { *os << row.name; }

constexpr std::nullopt_t none = std::nullopt;

// clang-format off
const TokenRow token_rows[] = {
  // noVNC: path=websockify?token=...
  {"Query",                 "/websockify?token=abc.def.ghi", "", "abc.def.ghi"},
  {"QueryAmongOthers",      "/websockify?foo=1&token=xyz&bar=2", "", "xyz"},
  {"QueryOnRoot",           "/?token=t1", "", "t1"},
  {"QueryPercentDecoded",   "/websockify?token=a%2Bb%3D%2F", "", "a+b=/"},
  {"QueryEmptyIsNone",      "/websockify?token=", "", none},
  {"QueryWithoutValue",     "/websockify?token", "", none},
  {"OtherParamIsNotToken",  "/websockify?tokenx=abc&xtoken=def", "", none},
  {"QueryPlusIsSpace",      "/websockify?token=a+b", "", "a b"},
  {"QueryKeyPercentEncoded", "/websockify?%74oken=k", "", "k"},
  {"QueryKeyPlusIsNotToken", "/websockify?to+ken=k", "", none},
  {"QueryQuestionMarkInQuery", "/websockify?a?b=1&token=x?y", "", "x?y"},
  {"QueryFirstNonEmptyWins", "/websockify?token=&token=second&token=third", "", "second"},
  {"QueryEmptyParams",      "/websockify?&&token=t&", "", "t"},
  {"QueryBadEscapeIsNone",  "/websockify?token=a%2", "token=c", none},
  {"QueryBadHexIsNone",     "/websockify?token=a%zz", "token=c", none},
  {"QuerySpaceIsNone",      "/websockify?token=a b", "token=c", none},
  {"FragmentIsNone",        "/websockify?token=a#b", "token=c", none},
  // WebVirtMgr: a cookie
  {"Cookie",                "/websockify", "token=cookieval", "cookieval"},
  {"CookieAmongOthers",     "/websockify", "sessionid=9f8e; token=c2; csrftoken=zz", "c2"},
  {"CookieQuoted",          "/websockify", "theme=dark; token=\"quoted-tok\"", "quoted-tok"},
  {"CookieSpaces",          "/websockify", "a=1;  token = spaced ;b=2", "spaced"},
  {"CookieSimilarNames",    "/websockify", "mytoken=no; token_x=no; xtoken=no", none},
  {"CookieEmptyValue",      "/websockify", "token=; other=1", none},
  {"CookieLaterNonEmpty",   "/websockify", "token=\"\"; token=second", "second"},
  // "/<token>"
  {"PathSegment",           "/abc123", "", "abc123"},
  {"PathSegmentDecoded",    "/abc%2Ddef", "", "abc-def"},
  {"PathWebsockifyIsNot",   "/websockify", "", none},
  {"PathRootIsNot",         "/", "", none},
  {"PathTwoSegmentsIsNot",  "/console/abc", "", none},
  {"PathTrailingSlashIsNot", "/abc/", "", none},
  {"PathEncodedSlashIsOne", "/a%2Fb", "", "a/b"},
  {"PathPlusStays",         "/a+b", "", "a+b"},
  {"PathDotPrefix",         "/./abc", "", "abc"},
  {"PathEmptyFirstSegment", "//abc", "", none},
  {"PathWebsockifyEncoded", "/websock%69fy", "", none},
  // Precedence: query, then cookie, then path.
  {"QueryBeatsCookie",      "/websockify?token=q", "token=c", "q"},
  {"QueryBeatsPath",        "/pathtok?token=q", "", "q"},
  {"QueryBeatsCookieAndPath", "/pathtok?token=q", "token=c", "q"},
  {"CookieBeatsPath",       "/pathtok", "token=c", "c"},
  {"EmptyQueryFallsToCookie", "/websockify?token=", "token=c", "c"},
  // Nothing, or not a request target.
  {"NoneAnywhere",          "/websockify", "session=1", none},
  {"NotOriginForm",         "websockify?token=abc", "token=c", none},
  {"Empty",                 "", "", none},
};
// clang-format on

class FindTokenTable : public testing::TestWithParam<TokenRow> {};

TEST_P(FindTokenTable, Row) {
  const TokenRow& row = GetParam();
  const auto got = find_token(row.target, row.cookie);
  if (row.token) {
    EXPECT_EQ(got, std::optional<std::string>(std::string(*row.token)));
  } else {
    EXPECT_EQ(got, std::nullopt);
  }
}

INSTANTIATE_TEST_SUITE_P(Requests, FindTokenTable, testing::ValuesIn(token_rows),
                         [](const testing::TestParamInfo<TokenRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

// ---------------------------------------------------------------------------
// origin_allowed

struct OriginRow {
  const char* name;
  std::string_view public_host;
  std::vector<std::string> allowed_origins;
  std::string_view origin;
  std::string_view host_header;
  bool allowed;
  std::string_view scheme = "http";  // how the request reached us (or a trusted proxy says)
};

void PrintTo(const OriginRow& row, std::ostream* os) { *os << row.name; }

const std::vector<std::string> no_list;
const std::vector<std::string> ui_list{"https://ui.example.com"};
const std::vector<std::string> ui_port_list{"https://UI.example.com:8443"};
const std::vector<std::string> v6_list{"http://[::1]:6080"};

// clang-format off
const OriginRow origin_rows[] = {
  // Clients that are not browsers may send none; the token protects those.
  {"NoOrigin",                 "console.example.com", no_list, "", "console.example.com", true},
  {"NullOrigin",               "console.example.com", no_list, "null", "console.example.com", false},
  {"NullOriginEmptyPolicy",    "", no_list, "null", "127.0.0.1:6080", false},

  // public_host without a port: any scheme and port of that name.
  {"PublicHttps",              "console.example.com", no_list, "https://console.example.com", "gw.internal:6080", true},
  {"PublicHttpOtherPort",      "console.example.com", no_list, "http://console.example.com:8080", "gw.internal:6080", true},
  {"PublicCaseInsensitive",    "console.example.com", no_list, "HTTPS://Console.EXAMPLE.com", "gw.internal:6080", true},
  {"PublicEvilSibling",        "console.example.com", no_list, "https://evil.example.com", "console.example.com", false},
  {"PublicEvilSuffix",         "console.example.com", no_list, "https://console.example.com.evil.net", "console.example.com", false},
  {"PublicEvilPrefix",         "console.example.com", no_list, "https://xconsole.example.com", "console.example.com", false},
  {"PublicBeatsHostHeader",    "console.example.com", no_list, "http://gw.internal:6080", "gw.internal:6080", false},

  // public_host with a port: that port, the origin's default port counting.
  {"PublicPortMatches",        "console.example.com:6080", no_list, "http://console.example.com:6080", "", true},
  {"PublicPortMatchesHttps",   "console.example.com:6080", no_list, "https://console.example.com:6080", "", true},
  {"PublicPortDefaultDiffers", "console.example.com:6080", no_list, "https://console.example.com", "", false},
  {"PublicPortOtherPort",      "console.example.com:6080", no_list, "http://console.example.com:8080", "", false},
  {"PublicPort443Default",     "console.example.com:443", no_list, "https://console.example.com", "", true},
  {"PublicPort443Explicit",    "console.example.com:443", no_list, "https://console.example.com:443", "", true},
  {"PublicPort443HttpIs80",    "console.example.com:443", no_list, "http://console.example.com", "", false},

  // No public_host: the Host header the request was sent to.
  {"HostHeaderSamePort",       "", no_list, "http://127.0.0.1:6080", "127.0.0.1:6080", true},
  {"HostHeaderOtherPort",      "", no_list, "http://127.0.0.1:9999", "127.0.0.1:6080", false},
  {"HostHeaderOtherName",      "", no_list, "http://localhost:6080", "127.0.0.1:6080", false},
  {"HostHeaderNoPortIsDefault","", no_list, "http://console.example.com:1234", "console.example.com", false},
  {"HostHeaderNoPortHttp80",   "", no_list, "http://console.example.com", "console.example.com", true},
  {"HostHeaderNoPortHttpsSaid","", no_list, "https://console.example.com", "console.example.com", true, "https"},
  {"HostHeaderNoPortHttpsNot", "", no_list, "https://console.example.com", "console.example.com", false, "http"},
  {"HostHeaderMissing",        "", no_list, "http://127.0.0.1:6080", "", false},
  {"HostHeaderGarbage",        "", no_list, "http://127.0.0.1:6080", "127.0.0.1:6080/x", false},

  // allowed_origins: exact after normalisation (case, default port).
  {"ListExact",                "console.example.com", ui_list, "https://ui.example.com", "", true},
  {"ListCaseAndDefaultPort",   "console.example.com", ui_list, "https://UI.Example.COM:443", "", true},
  {"ListOtherScheme",          "console.example.com", ui_list, "http://ui.example.com", "", false},
  {"ListOtherPort",            "console.example.com", ui_list, "https://ui.example.com:8443", "", false},
  {"ListOtherHost",            "console.example.com", ui_list, "https://ui2.example.com", "", false},
  {"ListWithPort",             "console.example.com", ui_port_list, "https://ui.example.com:8443", "", true},
  {"ListWithPortNeedsIt",      "console.example.com", ui_port_list, "https://ui.example.com", "", false},
  {"ListStillAllowsPublic",    "console.example.com", ui_list, "https://console.example.com", "", true},

  // IPv6 literals.
  {"Ipv6HostHeader",           "", no_list, "http://[::1]:6080", "[::1]:6080", true},
  {"Ipv6HostHeaderOtherPort",  "", no_list, "http://[::1]:6081", "[::1]:6080", false},
  {"Ipv6PublicHostCase",       "[2001:db8::1]", no_list, "https://[2001:DB8::1]", "", true},
  {"Ipv6PublicHostOther",      "[2001:db8::1]", no_list, "https://[2001:db8::2]", "", false},
  {"Ipv6List",                 "console.example.com", v6_list, "http://[::1]:6080", "", true},
  {"Ipv6ListOtherPort",        "console.example.com", v6_list, "http://[::1]", "", false},

  // Not an origin at all.
  {"OriginWithPath",           "console.example.com", no_list, "https://console.example.com/app", "", false},
  {"OriginWithQuery",          "console.example.com", no_list, "https://console.example.com?x=1", "", false},
  {"OriginWithFragment",       "console.example.com", no_list, "https://console.example.com#x", "", false},
  {"OriginWithUserinfo",       "console.example.com", no_list, "https://user@console.example.com", "", false},
  {"OriginWithPassword",       "console.example.com", no_list, "https://u:p@console.example.com", "", false},
  {"OriginUserinfoOnList",     "console.example.com", ui_list, "https://evil@ui.example.com", "", false},
  {"OriginFileScheme",         "console.example.com", no_list, "file://console.example.com", "", false},
  {"OriginWsScheme",           "console.example.com", no_list, "wss://console.example.com", "", false},
  {"OriginNoScheme",           "console.example.com", no_list, "console.example.com", "", false},
  {"OriginNoHost",             "console.example.com", no_list, "https://", "", false},
  {"OriginEmptyPort",          "console.example.com", no_list, "https://console.example.com:", "", false},
  {"OriginPortZero",           "console.example.com", no_list, "https://console.example.com:0", "", false},
  {"OriginPortTooBig",         "console.example.com:6080", no_list, "https://console.example.com:71616", "", false},
};
// clang-format on

class OriginAllowedTable : public testing::TestWithParam<OriginRow> {};

TEST_P(OriginAllowedTable, Row) {
  const OriginRow& row = GetParam();
  const OriginPolicy policy{std::string(row.public_host), row.allowed_origins};
  EXPECT_EQ(origin_allowed(policy, row.origin, row.host_header, row.scheme), row.allowed)
      << "Origin: " << row.origin << ", Host: " << row.host_header;
}

INSTANTIATE_TEST_SUITE_P(Origins, OriginAllowedTable, testing::ValuesIn(origin_rows),
                         [](const testing::TestParamInfo<OriginRow>& row_info) {
                           return std::string(row_info.param.name);
                         });

TEST(NormalizeOrigin, Forms) {
  const std::pair<std::string_view, std::optional<std::string>> cases[] = {
      {"https://UI.example.com:443", "https://ui.example.com"},
      {"HTTP://Example.COM:80", "http://example.com"},
      {"http://example.com:8080", "http://example.com:8080"},
      {"https://example.com:80", "https://example.com:80"},
      {"https://example.com/", "https://example.com"},
      {"http://[::1]:6080", "http://[::1]:6080"},
      {"https://[::1]:443", "https://[::1]"},
      {"http://127.0.0.1", "http://127.0.0.1"},
      {"null", std::nullopt},
      {"", std::nullopt},
      {"https://example.com/a", std::nullopt},
      {"https://u@example.com", std::nullopt},
      {"ftp://example.com", std::nullopt},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(normalize_origin(in), out) << in;
  }
}

TEST(DecodedPath, Forms) {
  const std::pair<std::string_view, std::optional<std::string>> cases[] = {
      {"/websockify?token=x", "/websockify"},
      {"/", "/"},
      {"/app/ui.js", "/app/ui.js"},
      {"/a%20b/c", "/a b/c"},
      {"/%2e%2e/etc/passwd", "/../etc/passwd"},  // decoded here; StaticFiles refuses it
      {"/vnc.html?autoconnect=1&path=websockify%3Ftoken%3Dabc", "/vnc.html"},
      {"vnc.html", std::nullopt},
      {"http://example.com/vnc.html", std::nullopt},
      {"", std::nullopt},
      {"/bad%zz", std::nullopt},
      {"/bad%2", std::nullopt},
      {"/a b", std::nullopt},
      {"/a#b", std::nullopt},
      {"/a+b?x=1+2", "/a+b"},
      {"/?", "/"},
      {"/a?b?c", "/a"},
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(decoded_path(in), out) << in;
  }
}

// find_token and decoded_path scan the target themselves; Boost.URL, which they
// replaced, is the reference: random targets, built from the characters and
// pieces that matter, must give the same answers.
std::optional<std::string> reference_token(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  for (const auto& param : parsed->params()) {
    if (param.key == "token" && param.has_value && !param.value.empty())
      return std::string(param.value);
  }
  const auto segments = parsed->segments();
  if (segments.size() == 1) {
    std::string segment = *segments.begin();
    if (!segment.empty() && segment != "websockify") return segment;
  }
  return std::nullopt;
}

std::optional<std::string> reference_path(std::string_view target) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return std::nullopt;
  return std::string(parsed->path());
}

TEST(RequestTarget, SameAsBoostUrl) {
  std::mt19937 random(20261121);
  const std::string_view characters = "/?&=%+.2e4F6BkotAZ~!$'()*,;:@ #[]\"\x01\xff";
  const std::string_view pieces[] = {"token",   "websockify", "%2F",     "%2e", "/./", "?",
                                     "&token=", "%7",         "%74oken", "=",   "+",   "/."};
  int with_token = 0;
  for (int i = 0; i < 200'000; ++i) {
    std::string target = random() % 4 ? "/" : "";
    for (unsigned n = random() % 12; n > 0; --n) {
      if (random() % 3 == 0) {
        target += pieces[random() % std::size(pieces)];
      } else {
        target += characters[random() % characters.size()];
      }
    }
    const auto expected = reference_token(target);
    with_token += expected.has_value();
    ASSERT_EQ(find_token(target, {}), expected) << target;
    ASSERT_EQ(decoded_path(target), reference_path(target)) << target;
  }
  EXPECT_GT(with_token, 10'000);  // the comparison covered tokens, not only refusals
}

TEST(HostHeader, Http11NeedsExactlyOne) {
  EXPECT_EQ(host_header_problem(11, 1), std::nullopt);
  EXPECT_EQ(host_header_problem(11, 0), "HTTP/1.1 request without a Host header");
  EXPECT_EQ(host_header_problem(11, 2), "more than one Host header");
  EXPECT_EQ(host_header_problem(11, 3), "more than one Host header");
}

TEST(HostHeader, Http10MayOmitItButNotRepeatIt) {
  EXPECT_EQ(host_header_problem(10, 0), std::nullopt);
  EXPECT_EQ(host_header_problem(10, 1), std::nullopt);
  EXPECT_EQ(host_header_problem(10, 2), "more than one Host header");
}

}  // namespace
}  // namespace cgw::gateway
