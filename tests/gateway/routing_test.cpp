// What a request asks for, from its method, target and upgrade flag alone:
// route_request(), strip_base_path() and is_websocket_path() by tables.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

#include "gateway/routing.hpp"

namespace cgw::gateway {
namespace {

using Kind = Route::Kind;
using Mount = Route::Mount;

// ---------------------------------------------------------------------------
// route_request

constexpr StaticMounts no_mounts{};
constexpr StaticMounts all_mounts{.novnc = true, .spice = true, .web = true};
constexpr StaticMounts novnc_only{.novnc = true};
constexpr StaticMounts spice_only{.spice = true};
constexpr StaticMounts xterm_only{.xterm = true};
constexpr StaticMounts web_only{.web = true};

struct RouteRow {
  const char* name;
  std::string_view method;
  std::string_view target;
  bool upgrade;
  std::string_view base;
  StaticMounts mounts;
  Kind kind;
  bool close = false;
  std::string_view below = "";  // Route::target
  Mount mount = Mount::web;     // static_file only
  std::string_view file = "";   // static_file only
};

void PrintTo(const RouteRow& row, std::ostream* os) { *os << row.name; }

constexpr bool up = true;
constexpr bool plain = false;

// clang-format off
const RouteRow route_rows[] = {
  // --- WebSocket upgrades: "/", "/websockify", "/<token>"; anything else ends the connection
  {"UpgradeRoot",              "GET", "/", up, "", no_mounts, Kind::websocket, false, "/"},
  {"UpgradeWebsockify",        "GET", "/websockify", up, "", no_mounts, Kind::websocket, false, "/websockify"},
  {"UpgradeWebsockifyQuery",   "GET", "/websockify?token=a.b.c", up, "", no_mounts, Kind::websocket, false, "/websockify?token=a.b.c"},
  {"UpgradeToken",             "GET", "/a.b.c", up, "", no_mounts, Kind::websocket, false, "/a.b.c"},
  {"UpgradeRootQuery",         "GET", "/?token=t", up, "", no_mounts, Kind::websocket, false, "/?token=t"},
  {"UpgradeTwoSegments",       "GET", "/a/b", up, "", no_mounts, Kind::not_found, true, "/a/b"},
  {"UpgradeHealthzIsAToken",   "GET", "/healthz", up, "", no_mounts, Kind::websocket, false, "/healthz"},
  {"UpgradeBadTarget",         "GET", "/%zz", up, "", no_mounts, Kind::not_found, true, "/%zz"},
  {"UpgradeStaticPath",        "GET", "/novnc/vnc.html", up, "", all_mounts, Kind::not_found, true, "/novnc/vnc.html"},
  // Beast's is_upgrade already requires GET: the upgrade flag is looked at first.
  {"UpgradeBeforeMethod",      "POST", "/", up, "", no_mounts, Kind::websocket, false, "/"},

  // --- methods: only GET and HEAD
  {"Post",                     "POST", "/healthz", plain, "", no_mounts, Kind::method_not_allowed, true, "/healthz"},
  {"Put",                      "PUT", "/", plain, "", all_mounts, Kind::method_not_allowed, true, "/"},
  {"Delete",                   "DELETE", "/index.html", plain, "", web_only, Kind::method_not_allowed, true, "/index.html"},
  {"Options",                  "OPTIONS", "/console", plain, "", no_mounts, Kind::method_not_allowed, true, "/console"},
  {"LowerCaseGetIsNotGet",     "get", "/healthz", plain, "", no_mounts, Kind::method_not_allowed, true, "/healthz"},
  {"HeadHealthz",              "HEAD", "/healthz", plain, "", no_mounts, Kind::health, false, "/healthz"},

  // --- the gateway's own paths
  {"Healthz",                  "GET", "/healthz", plain, "", no_mounts, Kind::health, false, "/healthz"},
  {"HealthzWithQuery",         "GET", "/healthz?probe=1", plain, "", no_mounts, Kind::health, false, "/healthz?probe=1"},
  {"ConsolePage",              "GET", "/console", plain, "", no_mounts, Kind::console_page, false, "/console"},
  {"ConsolePageWithToken",     "GET", "/console?token=a.b.c", plain, "", all_mounts, Kind::console_page, false, "/console?token=a.b.c"},
  {"Favicon",                  "GET", "/favicon.ico", plain, "", web_only, Kind::favicon, false, "/favicon.ico"},
  {"WebsockifyWithoutUpgrade", "GET", "/websockify", plain, "", no_mounts, Kind::console_status, false, "/websockify"},
  {"WebsockifyTokenNoUpgrade", "GET", "/websockify?token=t", plain, "", web_only, Kind::console_status, false, "/websockify?token=t"},
  {"RootQueryToken",           "GET", "/?token=t", plain, "", web_only, Kind::console_status, false, "/?token=t"},
  {"RootEmptyTokenIsNotOne",   "GET", "/?token=", plain, "", no_mounts, Kind::not_found, false, "/?token="},
  {"RootWithoutToken",         "GET", "/", plain, "", no_mounts, Kind::not_found, false, "/"},
  {"RootWithoutTokenWeb",      "GET", "/", plain, "", web_only, Kind::static_file, false, "/", Mount::web, "/"},
  // "/<token>" is a console path for an upgrade only; without one it is a file name.
  {"TokenPathWithoutUpgrade",  "GET", "/a.b.c", plain, "", no_mounts, Kind::not_found, false, "/a.b.c"},

  // --- static mounts
  {"NovncMounted",             "GET", "/novnc/vnc.html", plain, "", novnc_only, Kind::static_file, false, "/novnc/vnc.html", Mount::novnc, "/vnc.html"},
  {"NovncNotMounted",          "GET", "/novnc/vnc.html", plain, "", spice_only, Kind::not_found, false, "/novnc/vnc.html"},
  // An unconfigured client's prefix is an ordinary path of the web root.
  {"NovncNotMountedWeb",       "GET", "/novnc/vnc.html", plain, "", web_only, Kind::static_file, false, "/novnc/vnc.html", Mount::web, "/novnc/vnc.html"},
  {"NovncBeforeWeb",           "GET", "/novnc/vnc.html", plain, "", all_mounts, Kind::static_file, false, "/novnc/vnc.html", Mount::novnc, "/vnc.html"},
  {"NovncDirectory",           "HEAD", "/novnc/", plain, "", novnc_only, Kind::static_file, false, "/novnc/", Mount::novnc, "/"},
  {"NovncWithoutSlash",        "GET", "/novnc", plain, "", novnc_only, Kind::not_found, false, "/novnc"},
  {"NovncDecoded",             "GET", "/novnc/app/a%20b.js?v=2", plain, "", novnc_only, Kind::static_file, false, "/novnc/app/a%20b.js?v=2", Mount::novnc, "/app/a b.js"},
  {"SpiceMounted",             "GET", "/spice/spice_auto.html", plain, "", spice_only, Kind::static_file, false, "/spice/spice_auto.html", Mount::spice, "/spice_auto.html"},
  {"XtermMounted",             "GET", "/xterm/xterm/lib/xterm.mjs", plain, "", xterm_only, Kind::static_file, false, "/xterm/xterm/lib/xterm.mjs", Mount::xterm, "/xterm/lib/xterm.mjs"},
  {"XtermNotMounted",          "GET", "/xterm/xterm/lib/xterm.mjs", plain, "", spice_only, Kind::not_found, false, "/xterm/xterm/lib/xterm.mjs"},
  {"SpiceNotMounted",          "GET", "/spice/spice_auto.html", plain, "", novnc_only, Kind::not_found, false, "/spice/spice_auto.html"},
  {"WebIndex",                 "GET", "/index.html", plain, "", web_only, Kind::static_file, false, "/index.html", Mount::web, "/index.html"},
  {"WebIndexNotMounted",       "GET", "/index.html", plain, "", novnc_only, Kind::not_found, false, "/index.html"},
  {"WebSubdirectory",          "GET", "/css/site.css", plain, "", all_mounts, Kind::static_file, false, "/css/site.css", Mount::web, "/css/site.css"},
  // An encoded '/' is no separator and no part of a name: 404, whichever mount.
  {"EncodedSlashNovnc",        "GET", "/novnc%2fvnc.html", plain, "", novnc_only, Kind::not_found, false, "/novnc%2fvnc.html"},
  {"EncodedSlashBelowNovnc",   "GET", "/novnc/app%2F..%2F..%2Fsecret", plain, "", novnc_only, Kind::not_found, false, "/novnc/app%2F..%2F..%2Fsecret"},
  {"EncodedSlashWeb",          "GET", "/%2e%2e%2fsecret", plain, "", web_only, Kind::not_found, false, "/%2e%2e%2fsecret"},
  {"EncodedSlashInQueryOnly",  "GET", "/index.html?a=%2f", plain, "", web_only, Kind::static_file, false, "/index.html?a=%2f", Mount::web, "/index.html"},
  // "%2e%2e" decodes to "..", which StaticFiles refuses as a segment.
  {"EncodedDotDot",            "GET", "/novnc/%2e%2e/x", plain, "", novnc_only, Kind::static_file, false, "/novnc/%2e%2e/x", Mount::novnc, "/../x"},

  // --- bad targets: 400, and the connection ends
  {"BadEscape",                "GET", "/%zz", plain, "", no_mounts, Kind::bad_target, true, "/%zz"},
  {"BadEscapeInStatic",        "GET", "/novnc/%zz", plain, "", novnc_only, Kind::bad_target, true, "/novnc/%zz"},
  {"TruncatedEscape",          "GET", "/index.html%2", plain, "", web_only, Kind::bad_target, true, "/index.html%2"},

  // --- a base path
  {"BaseUpgradeInside",        "GET", "/console-gw/websockify?token=t", up, "/console-gw", no_mounts, Kind::websocket, false, "/websockify?token=t"},
  {"BaseUpgradeBare",          "GET", "/console-gw", up, "/console-gw", no_mounts, Kind::websocket, false, "/"},
  {"BaseUpgradeBareQuery",     "GET", "/console-gw?token=t", up, "/console-gw", no_mounts, Kind::websocket, false, "/?token=t"},
  {"BaseUpgradeToken",         "GET", "/console-gw/a.b.c", up, "/console-gw", no_mounts, Kind::websocket, false, "/a.b.c"},
  // Outside the base path: 404 and the connection is kept (nothing was misread).
  {"BaseUpgradeOutside",       "GET", "/websockify", up, "/console-gw", no_mounts, Kind::not_found, false, ""},
  {"BaseOutsideSimilarPrefix", "GET", "/console-gwx", plain, "/console-gw", all_mounts, Kind::not_found, false, ""},
  {"BaseOutsideSimilarUpgrade", "GET", "/console-gwx/websockify", up, "/console-gw", no_mounts, Kind::not_found, false, ""},
  {"BaseOutsidePost",          "POST", "/other", plain, "/console-gw", no_mounts, Kind::not_found, false, ""},
  {"BaseOutsideBadTarget",     "GET", "/%zz", plain, "/console-gw", no_mounts, Kind::not_found, false, ""},
  {"BaseHealthz",              "GET", "/console-gw/healthz", plain, "/console-gw", no_mounts, Kind::health, false, "/healthz"},
  {"BaseHealthzOutside",       "GET", "/healthz", plain, "/console-gw", no_mounts, Kind::not_found, false, ""},
  {"Metrics",                  "GET", "/metrics", plain, "", all_mounts, Kind::metrics, false, "/metrics"},
  {"BaseMetrics",              "GET", "/console-gw/metrics", plain, "/console-gw", no_mounts, Kind::metrics, false, "/metrics"},
  {"BaseMetricsOutside",       "GET", "/metrics", plain, "/console-gw", no_mounts, Kind::not_found, false, ""},
  {"BaseConsole",              "GET", "/console-gw/console?token=t", plain, "/console-gw", no_mounts, Kind::console_page, false, "/console?token=t"},
  {"BaseRootQueryToken",       "GET", "/console-gw?token=t", plain, "/console-gw", no_mounts, Kind::console_status, false, "/?token=t"},
  {"BaseRootOtherQuery",       "GET", "/console-gw?x", plain, "/console-gw", no_mounts, Kind::not_found, false, "/?x"},
  {"BaseRootWeb",              "GET", "/console-gw", plain, "/console-gw", web_only, Kind::static_file, false, "/", Mount::web, "/"},
  {"BaseNovnc",                "GET", "/console-gw/novnc/vnc.html", plain, "/console-gw", novnc_only, Kind::static_file, false, "/novnc/vnc.html", Mount::novnc, "/vnc.html"},
  {"BasePostInside",           "POST", "/console-gw/healthz", plain, "/console-gw", no_mounts, Kind::method_not_allowed, true, "/healthz"},
  {"BaseBadTargetInside",      "GET", "/console-gw/%zz", plain, "/console-gw", no_mounts, Kind::bad_target, true, "/%zz"},
};
// clang-format on

class RoutingTable : public ::testing::TestWithParam<RouteRow> {};

TEST_P(RoutingTable, Routes) {
  const RouteRow& row = GetParam();
  const Route r = route_request(row.method, row.target, row.upgrade, row.base, row.mounts);
  EXPECT_EQ(r.kind, row.kind);
  EXPECT_EQ(r.close, row.close);
  EXPECT_EQ(r.target, row.below);
  if (row.kind == Kind::static_file) {
    EXPECT_EQ(r.mount, row.mount);
    EXPECT_EQ(r.file, row.file);
  } else {
    EXPECT_EQ(r.file, "");
  }
}

INSTANTIATE_TEST_SUITE_P(Routing, RoutingTable, ::testing::ValuesIn(route_rows),
                         [](const ::testing::TestParamInfo<RouteRow>& p) { return p.param.name; });

// ---------------------------------------------------------------------------
// strip_base_path

struct StripRow {
  const char* name;
  std::string_view base;
  std::string_view target;
  bool inside;
  std::string_view below;
};

void PrintTo(const StripRow& row, std::ostream* os) { *os << row.name; }

// clang-format off
const StripRow strip_rows[] = {
  {"NoBaseKeepsAll",       "", "/x/y?z=1", true, "/x/y?z=1"},
  {"NoBaseRoot",           "", "/", true, "/"},
  {"Bare",                 "/console-gw", "/console-gw", true, "/"},
  {"BareSlash",            "/console-gw", "/console-gw/", true, "/"},
  {"Below",                "/console-gw", "/console-gw/websockify?token=t", true, "/websockify?token=t"},
  {"BareQuery",            "/console-gw", "/console-gw?x", true, "/?x"},
  {"SimilarPrefix",        "/console-gw", "/console-gwx", false, ""},
  {"SimilarPrefixPath",    "/console-gw", "/console-gwx/y", false, ""},
  {"Root",                 "/console-gw", "/", false, ""},
  {"Elsewhere",            "/console-gw", "/other/console-gw", false, ""},
  {"CaseMatters",          "/console-gw", "/Console-GW/", false, ""},
  {"Nested",               "/a/b", "/a/b/c", true, "/c"},
  {"NestedPartial",        "/a/b", "/a/c", false, ""},
};
// clang-format on

class StripBasePathTable : public ::testing::TestWithParam<StripRow> {};

TEST_P(StripBasePathTable, Strips) {
  const StripRow& row = GetParam();
  std::string below = "untouched";
  EXPECT_EQ(strip_base_path(row.base, row.target, below), row.inside);
  if (row.inside) {
    EXPECT_EQ(below, row.below);
  }
}

INSTANTIATE_TEST_SUITE_P(Routing, StripBasePathTable, ::testing::ValuesIn(strip_rows),
                         [](const ::testing::TestParamInfo<StripRow>& p) { return p.param.name; });

// ---------------------------------------------------------------------------
// is_websocket_path

TEST(RoutingWebsocketPath, OneSegmentOrRoot) {
  EXPECT_TRUE(is_websocket_path("/"));
  EXPECT_TRUE(is_websocket_path("/websockify"));
  EXPECT_TRUE(is_websocket_path("/eyJhbGciOiJIUzI1NiJ9.e30.sig"));
  EXPECT_TRUE(is_websocket_path("/host_1-0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e5f6"));
  EXPECT_FALSE(is_websocket_path(""));
  EXPECT_FALSE(is_websocket_path("/a/b"));
  EXPECT_FALSE(is_websocket_path("/websockify/"));
  EXPECT_FALSE(is_websocket_path("//"));
  EXPECT_FALSE(is_websocket_path("/novnc/vnc.html"));
}

}  // namespace
}  // namespace cgw::gateway
