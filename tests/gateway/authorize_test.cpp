// authorize() against libvirt's real test:/// driver: from a browser's request
// (token, Origin, Host, cookie, target) to the console it may open or the close
// code and reason it gets, one row per branch of the README's close-code table.
// No root, no libvirtd, no QEMU: the test driver runs inside this process. The
// only fake is a UNIX socket that never answers, for the one failure libvirt
// cannot be made to produce for real (a hypervisor that does not answer in time).
//
// Also connect_refusal(): every ConnectResult::Failure, and one real Connector
// connect to a port that is bound but not listening.
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/authorize.hpp"
#include "gateway/config.hpp"
#include "gateway/console_security.hpp"
#include "gateway/replay_guard.hpp"
#include "gateway/request_rules.hpp"
#include "libvirt_adapter/hypervisors.hpp"
#include "tests/support/scratch.hpp"
#include "token/token.hpp"
#include "tunnel/connector.hpp"
#include "tunnel/host_route.hpp"

namespace cgw::gateway {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using PathKind = tunnel::ConsolePath::Kind;

// Runs one coroutine to completion on `io`.
template <class T>
T run(net::io_context& io, net::awaitable<T> coroutine) {
  auto result = net::co_spawn(io, std::move(coroutine), net::use_future);
  io.restart();
  io.run();
  return result.get();
}

// ---------------------------------------------------------------------------
// The test driver's node: one domain per case.

constexpr std::string_view kWeb01 = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e501";         // VNC 127.0.0.1
constexpr std::string_view kStopped = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e502";       // shut off
constexpr std::string_view kSpice = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e503";         // SPICE only
constexpr std::string_view kHeadless = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e504";      // no graphics
constexpr std::string_view kHidden = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e505";        // listen none
constexpr std::string_view kTls = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e506";           // SPICE tlsPort
constexpr std::string_view kUnstarted = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e507";     // port -1
constexpr std::string_view kSocketAttr = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e508";    // socket=
constexpr std::string_view kSocketListen = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e509";  // <listen>
constexpr std::string_view kWild = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e50a";          // 0.0.0.0
constexpr std::string_view kMixed = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e50b";         // SPICE + VNC
constexpr std::string_view kPaused = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e50c";        // paused
constexpr std::string_view kAbsent = "0f7a6c1e-1b2d-4c3e-8f90-a1b2c3d4e5ff";        // not defined

constexpr std::string_view kVncSocket = "/var/lib/libvirt/qemu/domain-8-sock/vnc.sock";
constexpr std::string_view kVncListenSocket = "/var/lib/libvirt/qemu/domain-9-sock/vnc.sock";

std::string domain_xml(std::string_view name, std::string_view uuid, std::string_view devices,
                       std::string_view extra = {}) {
  std::string xml = "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>";
  xml += "<name>" + std::string(name) + "</name><uuid>" + std::string(uuid) + "</uuid>";
  xml += "<memory>65536</memory><os><type>hvm</type></os>";
  xml += "<devices>" + std::string(devices) + "</devices>";
  xml += extra;
  xml += "</domain>";
  return xml;
}

std::string node_xml() {
  std::string node = "<node>";
  node += domain_xml("web01", kWeb01, "<graphics type='vnc' port='5901' listen='127.0.0.1'/>");
  // The test driver's own run state: 5 is VIR_DOMAIN_SHUTOFF (virsh: "shut off",
  // and the live XML has no id='N').
  node += domain_xml("stopped", kStopped, "<graphics type='vnc' port='5902' listen='127.0.0.1'/>",
                     "<test:runstate>5</test:runstate>");
  // 3 is VIR_DOMAIN_PAUSED: active (id='N'), and its console still there.
  node += domain_xml("paused", kPaused, "<graphics type='vnc' port='5913' listen='127.0.0.1'/>",
                     "<test:runstate>3</test:runstate>");
  node += domain_xml("spice01", kSpice, "<graphics type='spice' port='5903' listen='127.0.0.1'/>");
  node += domain_xml("headless", kHeadless, "");
  node += domain_xml("hidden", kHidden,
                     "<graphics type='vnc' port='5905'><listen type='none'/></graphics>");
  node += domain_xml("tls", kTls,
                     "<graphics type='spice' tlsPort='5906' autoport='no' listen='127.0.0.1' "
                     "defaultMode='secure'/>");
  node += domain_xml("unstarted", kUnstarted, "<graphics type='vnc' port='-1' autoport='yes'/>");
  node += domain_xml("sockattr", kSocketAttr,
                     "<graphics type='vnc' socket='" + std::string(kVncSocket) + "'/>");
  node += domain_xml("socklisten", kSocketListen,
                     "<graphics type='vnc'><listen type='socket' socket='" +
                         std::string(kVncListenSocket) + "'/></graphics>");
  node += domain_xml("wild", kWild, "<graphics type='vnc' port='5910' listen='0.0.0.0'/>");
  node += domain_xml("mixed", kMixed,
                     "<graphics type='spice' port='5911' listen='127.0.0.1'/>"
                     "<graphics type='vnc' port='5912' listen='127.0.0.1'/>");
  node += "</node>";
  return node;
}

// ---------------------------------------------------------------------------
// The authority: an origin policy, an HS256 verifier, real libvirt connections
// and the routes of these hosts:
//   lab       test:/// node, local
//   remote    the same node, as a remote host (hv2.example) with an address and no SSH
//   named     the same node, remote (hv3.example), no address, no SSH
//   nowhere   the same node, remote but with neither hostname nor address
//   tunnelled the same node, remote (hv4.example) with SSH settings (never dialled here)
//   dead      a libvirt socket that does not exist
//   hung      a libvirt socket that accepts and never answers (its own Hypervisors,
//             with a short call timeout)
//   orphan    routed, but not a host of Hypervisors
// and "ghost", which a token may name but nothing routes.

tunnel::HostRoute route(std::string id, std::string uri, bool local, std::string hostname = {},
                        std::string address = {}) {
  tunnel::HostRoute r;
  r.id = std::move(id);
  r.uri = std::move(uri);
  r.local = local;
  r.hostname = std::move(hostname);
  r.address = std::move(address);
  return r;
}

tunnel::HostRoute tunnelled(std::string uri) {
  tunnel::HostRoute r = route("tunnelled", std::move(uri), false, "hv4.example");
  r.ssh.emplace();
  r.ssh->host = "hv4.example";
  r.ssh->user = "cgw";
  return r;
}

struct Env {
  Env()
      : secret(scratch.hs256_secret("token.key")),
        ec_key(scratch.private_key("ec.pem", "EC")),
        signer(token::SigningKey::load_file(secret)),
        wrong_signer(token::SigningKey::load_file(ec_key)),
        verifier(token::VerificationKey::load_file(secret), token::Policy{}),
        hung_socket(scratch.path("hung.sock")),
        hung(io, net::local::stream_protocol::endpoint(hung_socket)) {
    policy.allowed_origins = {"https://ui.example.com"};
    const std::string node = "test://" + scratch.write("node.xml", node_xml());
    const std::string dead = "qemu+unix:///system?socket=/nonexistent/sock";
    const std::string silent = "qemu+unix:///system?socket=" + hung_socket;
    for (auto r :
         {route("lab", node, true), route("remote", node, false, "hv2.example", "192.0.2.10"),
          route("named", node, false, "hv3.example"), route("nowhere", node, false),
          tunnelled(node), route("dead", dead, true), route("hung", silent, true),
          route("orphan", node, true)}) {
      std::string id = r.id;
      routes.emplace(std::move(id), std::move(r));
    }
    hypervisors.emplace(std::vector<libvirt::HostSpec>{{"lab", node},
                                                       {"remote", node},
                                                       {"named", node},
                                                       {"nowhere", node},
                                                       {"tunnelled", node},
                                                       {"dead", dead}},
                        libvirt::HypervisorOptions{});
    libvirt::HypervisorOptions quick;
    quick.call_timeout = 200ms;
    slow_hypervisors.emplace(std::vector<libvirt::HostSpec>{{"hung", silent}}, quick);
  }

  ~Env() {
    // The hung host's thread is still inside libvirt, waiting for an answer:
    // closing the socket (and the connection waiting in its backlog) ends that
    // call, so that Hypervisors' destructor, which waits for it, returns. Both go
    // before the io_context their calls complete on.
    hung.close();
    slow_hypervisors.reset();
    hypervisors.reset();
  }

  Authority authority() { return {policy, verifier, *hypervisors, routes}; }
  Authority slow_authority() { return {policy, verifier, *slow_hypervisors, routes}; }

  net::io_context io;
  test::Scratch scratch;
  std::string secret;
  std::string ec_key;
  token::SigningKey signer;
  token::SigningKey wrong_signer;
  token::Verifier verifier;
  OriginPolicy policy;
  HostRoutes routes;
  std::string hung_socket;
  net::local::stream_protocol::acceptor hung;  // listens, never accepts
  std::optional<libvirt::Hypervisors> hypervisors;
  std::optional<libvirt::Hypervisors> slow_hypervisors;
};

// ---------------------------------------------------------------------------
// The table.

enum class Tok {
  none,       // no token anywhere
  good,       // minted with the gateway's HS256 secret
  malformed,  // not a compact JWS
  tampered,   // good, with its signature changed
  wrong_alg,  // signed with an EC key (ES256): the key says HS256
  expired,    // good, but expired an hour ago
};
enum class Where { query, root_query, cookie, segment };

struct Row {
  const char* name;
  // The request.
  Tok token = Tok::good;
  std::string_view host_id = "lab";
  std::string_view uuid = kWeb01;
  std::optional<ConsoleKind> console = std::nullopt;
  Where where = Where::query;
  std::string_view origin = "";
  std::string_view host = "gw.example";
  bool slow = false;  // ask the Hypervisors with the short call timeout
  // The answer: a refusal (code and reason), or the console.
  std::optional<Refusal> code = std::nullopt;
  std::string_view reason = "";
  std::string_view domain = "";  // the domain's name in the decision (empty: not found)
  ConsoleKind kind = ConsoleKind::vnc;
  PathKind path = PathKind::direct_tcp;
  std::string_view address = "";
  std::uint16_t port = 0;
  std::string_view socket = "";
};

void PrintTo(const Row& row, std::ostream* os) { *os << row.name; }

constexpr auto vnc = ConsoleKind::vnc;
constexpr auto spice = ConsoleKind::spice;
constexpr auto serial = ConsoleKind::serial;

// clang-format off
const Row rows[] = {
  // --- the token: 4401, 4402, and where it is found
  {.name = "MissingToken", .token = Tok::none, .where = Where::root_query,
   .code = Refusal::invalid_token, .reason = "missing token"},
  {.name = "MalformedToken", .token = Tok::malformed,
   .code = Refusal::invalid_token, .reason = "malformed token"},
  {.name = "TamperedSignature", .token = Tok::tampered,
   .code = Refusal::invalid_token, .reason = "bad signature"},
  {.name = "WrongAlgorithm", .token = Tok::wrong_alg,
   .code = Refusal::invalid_token, .reason = "algorithm not allowed"},
  {.name = "Expired", .token = Tok::expired,
   .code = Refusal::token_expired, .reason = "token expired"},
  {.name = "TokenInQuery", .where = Where::query,
   .domain = "web01", .address = "127.0.0.1", .port = 5901},
  {.name = "TokenInRootQuery", .where = Where::root_query,
   .domain = "web01", .address = "127.0.0.1", .port = 5901},
  {.name = "TokenInCookie", .where = Where::cookie,
   .domain = "web01", .address = "127.0.0.1", .port = 5901},
  {.name = "TokenInLastPathSegment", .where = Where::segment,
   .domain = "web01", .address = "127.0.0.1", .port = 5901},

  // --- the Origin: 4403 (checked before the token)
  {.name = "OriginNotAllowed", .origin = "https://evil.example",
   .code = Refusal::origin_not_allowed, .reason = "origin not allowed"},
  {.name = "OriginNull", .origin = "null",
   .code = Refusal::origin_not_allowed, .reason = "origin not allowed"},
  {.name = "OriginOtherPortRefused", .origin = "http://gw.example:8080",
   .code = Refusal::origin_not_allowed, .reason = "origin not allowed"},
  {.name = "OriginNotAllowedEvenWithoutToken", .token = Tok::none, .origin = "https://evil.example",
   .code = Refusal::origin_not_allowed, .reason = "origin not allowed"},
  {.name = "SameOriginAllowed", .origin = "http://gw.example:8080", .host = "gw.example:8080",
   .domain = "web01", .address = "127.0.0.1", .port = 5901},
  {.name = "ConfiguredOriginAllowed", .origin = "https://ui.example.com",
   .domain = "web01", .address = "127.0.0.1", .port = 5901},

  // --- host and domain: 4404
  {.name = "UnknownHostNotRouted", .host_id = "ghost",
   .code = Refusal::unknown_host_or_domain, .reason = "unknown host"},
  {.name = "UnknownHostNotInHypervisors", .host_id = "orphan",
   .code = Refusal::unknown_host_or_domain, .reason = "unknown host"},
  {.name = "UnknownDomain", .uuid = kAbsent,
   .code = Refusal::unknown_host_or_domain, .reason = "unknown domain"},

  // --- libvirt: 4502
  {.name = "HypervisorUnreachable", .host_id = "dead",
   .code = Refusal::hypervisor_unreachable, .reason = "hypervisor unreachable"},
  {.name = "HypervisorTimedOut", .host_id = "hung", .slow = true,
   .code = Refusal::hypervisor_unreachable, .reason = "hypervisor timed out"},

  // --- the domain and its consoles: 4409
  {.name = "DomainNotRunning", .uuid = kStopped,
   .code = Refusal::no_console, .reason = "domain not running", .domain = "stopped"},
  {.name = "NoVncConsole", .uuid = kSpice, .console = vnc,
   .code = Refusal::no_console, .reason = "no VNC console", .domain = "spice01"},
  {.name = "NoSpiceConsole", .uuid = kWeb01, .console = spice,
   .code = Refusal::no_console, .reason = "no SPICE console", .domain = "web01"},
  {.name = "NoConsoleAtAll", .uuid = kHeadless,
   .code = Refusal::no_console, .reason = "domain has no console", .domain = "headless"},
  {.name = "NoVncConsoleOnHeadless", .uuid = kHeadless, .console = vnc,
   .code = Refusal::no_console, .reason = "no VNC console", .domain = "headless"},
  {.name = "NoSerialConsole", .uuid = kWeb01, .console = serial,
   .code = Refusal::no_console, .reason = "no serial console", .domain = "web01"},
  {.name = "ConsoleNotListening", .uuid = kHidden,
   .code = Refusal::no_console, .reason = "console not listening", .domain = "hidden"},
  {.name = "SpiceTlsOnly", .uuid = kTls,
   .code = Refusal::no_console, .reason = "SPICE console is TLS-only", .domain = "tls"},
  {.name = "ConsoleNotStarted", .uuid = kUnstarted,
   .code = Refusal::no_console, .reason = "console not started", .domain = "unstarted"},

  // --- the path: 4504
  {.name = "LoopbackOfRemoteNeedsSsh", .host_id = "remote",
   .code = Refusal::console_unreachable, .reason = "console needs SSH tunnel", .domain = "web01"},
  {.name = "SocketOfRemoteNeedsSsh", .host_id = "remote", .uuid = kSocketAttr,
   .code = Refusal::console_unreachable, .reason = "console needs SSH tunnel",
   .domain = "sockattr"},
  {.name = "WildcardWithNowhereToGo", .host_id = "nowhere", .uuid = kWild,
   .code = Refusal::console_unreachable, .reason = "console unreachable", .domain = "wild"},

  // --- authorised: which console, and how to get there
  {.name = "FirstConsoleWhenNoneAsked", .uuid = kSpice,
   .domain = "spice01", .kind = spice, .address = "127.0.0.1", .port = 5903},
  {.name = "SpiceAsked", .uuid = kSpice, .console = spice,
   .domain = "spice01", .kind = spice, .address = "127.0.0.1", .port = 5903},
  {.name = "VncAskedIsNotTheFirst", .uuid = kMixed, .console = vnc,
   .domain = "mixed", .kind = vnc, .address = "127.0.0.1", .port = 5912},
  {.name = "FirstOfMixed", .uuid = kMixed,
   .domain = "mixed", .kind = spice, .address = "127.0.0.1", .port = 5911},
  {.name = "VncSocketAttribute", .uuid = kSocketAttr,
   .domain = "sockattr", .path = PathKind::local_unix, .socket = kVncSocket},
  {.name = "VncSocketListen", .uuid = kSocketListen, .console = vnc,
   .domain = "socklisten", .path = PathKind::local_unix, .socket = kVncListenSocket},
  {.name = "PausedIsRunning", .uuid = kPaused,
   .domain = "paused", .address = "127.0.0.1", .port = 5913},
  {.name = "WildcardOfLocalIsLoopback", .uuid = kWild,
   .domain = "wild", .address = "127.0.0.1", .port = 5910},
  {.name = "WildcardOfRemoteIsItsAddress", .host_id = "remote", .uuid = kWild,
   .domain = "wild", .address = "192.0.2.10", .port = 5910},
  {.name = "LoopbackThroughSsh", .host_id = "tunnelled",
   .domain = "web01", .path = PathKind::ssh_tcp, .address = "127.0.0.1", .port = 5901},
  {.name = "SocketThroughSsh", .host_id = "tunnelled", .uuid = kSocketListen,
   .domain = "socklisten", .path = PathKind::ssh_unix, .socket = kVncListenSocket},
  {.name = "WildcardOfRemoteIsItsHostname", .host_id = "named", .uuid = kWild,
   .domain = "wild", .address = "hv3.example", .port = 5910},
};
// clang-format on

class AuthorizeTable : public ::testing::TestWithParam<Row> {
 protected:
  static void SetUpTestSuite() { env_ = new Env(); }
  static void TearDownTestSuite() {
    delete env_;
    env_ = nullptr;
  }

  static std::string token_for(const Row& row) {
    token::MintRequest mint;
    mint.host_id = std::string(row.host_id);
    mint.uuid = std::string(row.uuid);
    mint.console = row.console;
    switch (row.token) {
      case Tok::none:
        return {};
      case Tok::malformed:
        return "not.a-token";
      case Tok::good:
        return token::mint(env_->signer, mint);
      case Tok::tampered: {
        std::string text = token::mint(env_->signer, mint);
        // The signature's first character carries its first bits in full.
        char& first = text[text.rfind('.') + 1];
        first = first == 'A' ? 'B' : 'A';
        return text;
      }
      case Tok::wrong_alg:
        return token::mint(env_->wrong_signer, mint);
      case Tok::expired:
        mint.now = std::chrono::system_clock::now() - 1h;
        return token::mint(env_->signer, mint);
    }
    return {};
  }

  static Env* env_;
};

Env* AuthorizeTable::env_ = nullptr;

TEST_P(AuthorizeTable, Decides) {
  const Row& row = GetParam();
  const std::string token = token_for(row);
  std::string target;
  std::string cookie = "sessionid=9f8e";
  switch (row.where) {
    case Where::query:
      target = "/websockify" + (token.empty() ? std::string() : "?token=" + token);
      break;
    case Where::root_query:
      target = "/" + (token.empty() ? std::string() : "?token=" + token);
      break;
    case Where::cookie:
      target = "/websockify";
      cookie += "; token=" + token;
      break;
    case Where::segment:
      target = "/" + token;
      break;
  }
  const ConsoleRequest request{target, row.origin, row.host, cookie};
  const Authority authority = row.slow ? env_->slow_authority() : env_->authority();
  const Decision d = run(env_->io, authorize(authority, request));

  // Host and UUID are known once the token verified; the Origin is checked first.
  const bool verified = row.token == Tok::good && row.code != Refusal::origin_not_allowed;
  EXPECT_EQ(d.host_id, verified ? row.host_id : "");
  EXPECT_EQ(d.uuid, verified ? row.uuid : "");
  EXPECT_EQ(d.domain_name, row.domain);

  if (row.code) {
    ASSERT_FALSE(d) << "authorised; expected " << close_code(*row.code) << " " << row.reason;
    EXPECT_EQ(close_code(d.refused.code), close_code(*row.code)) << d.refused.reason;
    EXPECT_EQ(d.refused.reason, row.reason) << d.refused.detail;
    EXPECT_LE(d.refused.reason.size(), 123u);  // a WebSocket close reason
    return;
  }
  ASSERT_TRUE(d) << close_code(d.refused.code) << " " << d.refused.reason << " ("
                 << d.refused.detail << ")";
  const ConsoleTarget& t = *d.target;
  EXPECT_EQ(t.route, &env_->routes.at(std::string(row.host_id)));
  EXPECT_EQ(t.console, row.kind);
  EXPECT_EQ(t.path.kind, row.path);
  EXPECT_EQ(t.path.address, row.address);
  EXPECT_EQ(t.path.port, row.port);
  EXPECT_EQ(t.path.socket_path, row.socket);
}

INSTANTIATE_TEST_SUITE_P(Authorize, AuthorizeTable, ::testing::ValuesIn(rows),
                         [](const ::testing::TestParamInfo<Row>& p) { return p.param.name; });

// Every close code of the README's table has at least one row.
TEST(AuthorizeCoverage, EveryCloseCodeHasARow) {
  for (const Refusal code :
       {Refusal::invalid_token, Refusal::token_expired, Refusal::origin_not_allowed,
        Refusal::unknown_host_or_domain, Refusal::no_console, Refusal::hypervisor_unreachable,
        Refusal::console_unreachable}) {
    bool found = false;
    for (const Row& row : rows) found = found || row.code == code;
    EXPECT_TRUE(found) << close_code(code);
  }
}

// ---------------------------------------------------------------------------
// connect_refusal

using Failure = tunnel::ConnectResult::Failure;

struct RefusalRow {
  const char* name;
  Failure failure;
  std::string_view reason;  // the ConnectResult's
  std::string_view description;
  Refusal code;
  std::string_view says;  // the browser's reason
  std::string_view detail;
};

void PrintTo(const RefusalRow& row, std::ostream* os) { *os << row.name; }

// clang-format off
const RefusalRow refusal_rows[] = {
  {"None", Failure::none, "", "tcp 127.0.0.1:5900",
   Refusal::console_unreachable, "console unreachable", " (tcp 127.0.0.1:5900)"},
  {"ConsoleUnreachable", Failure::console_unreachable, "console connect timed out", "tcp 127.0.0.1:5900",
   Refusal::console_unreachable, "console unreachable", "console connect timed out (tcp 127.0.0.1:5900)"},
  {"NeedsSsh", Failure::needs_ssh, "console needs the SSH tunnel", "ssh hv2",
   Refusal::console_unreachable, "console needs SSH tunnel", "console needs the SSH tunnel"},
  {"HypervisorUnreachable", Failure::hypervisor_unreachable, "ssh authentication failed", "ssh hv2",
   Refusal::hypervisor_unreachable, "ssh authentication failed", "ssh hv2"},
  {"HypervisorUnreachableNoReason", Failure::hypervisor_unreachable, "", "ssh hv2",
   Refusal::hypervisor_unreachable, "hypervisor unreachable", "ssh hv2"},
  {"HostKeyNotTrusted", Failure::host_key_not_trusted, "host key changed", "ssh hv2",
   Refusal::hypervisor_unreachable, "host key not trusted", "host key changed"},
  {"SerialConsoleBusy", Failure::console_busy,
   "operation failed: Active console session exists for this domain", "libvirt console (first)",
   Refusal::console_busy, "console in use by another client",
   "operation failed: Active console session exists for this domain"},
  {"SerialNoConsole", Failure::no_console, "cannot find character device serial7",
   "libvirt console serial7", Refusal::no_console, "cannot find character device serial7",
   "libvirt console serial7"},
};
// clang-format on

class ConnectRefusalTable : public ::testing::TestWithParam<RefusalRow> {};

TEST_P(ConnectRefusalTable, Maps) {
  const RefusalRow& row = GetParam();
  const Refused r = connect_refusal(tunnel::ConnectResult::failed(
      row.failure, std::string(row.reason), std::string(row.description)));
  EXPECT_EQ(close_code(r.code), close_code(row.code));
  EXPECT_EQ(r.reason, row.says);
  EXPECT_EQ(r.detail, row.detail);
}

INSTANTIATE_TEST_SUITE_P(ConnectRefusal, ConnectRefusalTable, ::testing::ValuesIn(refusal_rows),
                         [](const ::testing::TestParamInfo<RefusalRow>& p) {
                           return p.param.name;
                         });

// A real connect: a port that is bound (so nobody else takes it) but not listening.
TEST(ConnectRefusalReal, BoundButNotListeningIsConsoleUnreachable) {
  net::io_context io;
  net::ip::tcp::socket bound(io);
  bound.open(net::ip::tcp::v4());
  bound.bind({net::ip::make_address_v4("127.0.0.1"), 0});
  const std::uint16_t port = bound.local_endpoint().port();

  tunnel::HostRoute host = route("lab", "test:///default", true);
  tunnel::ConsolePath path;
  path.kind = PathKind::direct_tcp;
  path.address = "127.0.0.1";
  path.port = port;
  const tunnel::Connector connector(tunnel::ConnectorOptions{2s});
  const tunnel::ConnectResult result = run(io, connector.connect(host, path));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.failure, Failure::console_unreachable);

  const Refused r = connect_refusal(result);
  EXPECT_EQ(close_code(r.code), 4504);
  EXPECT_EQ(r.reason, "console unreachable");
  EXPECT_NE(r.detail.find("(tcp 127.0.0.1:" + std::to_string(port) + ")"), std::string::npos)
      << r.detail;
}

// ---------------------------------------------------------------------------
// The hosts' console security: what authorize() decides from it and the
// token's view_only claim.

class AuthorizeConsoleSecurity : public ::testing::Test {
 protected:
  Decision ask(std::string_view uuid, bool view_only = false,
               std::optional<ConsoleKind> console = std::nullopt) {
    token::MintRequest request;
    request.host_id = "lab";
    request.uuid = std::string(uuid);
    request.view_only = view_only;
    request.console = console;
    const std::string target = "/websockify?token=" + token::mint(env_.signer, request);
    const ConsoleRequest req{target, "", "gw.example", ""};
    const Authority authority{env_.policy, env_.verifier, *env_.hypervisors, env_.routes,
                              &security_};
    return run(env_.io, authorize(authority, req));
  }
  HostSecurity& lab() { return security_["lab"]; }

  Env env_;
  HostSecurities security_;
};

// One-time tokens: a "jti" is used up by the console that opens (the
// WebSocket), not by the page that only looks; a SPICE console's further
// channels from the same client follow within the grace period.
class AuthorizeOneTime : public AuthorizeConsoleSecurity {
 protected:
  Decision open(const std::string& jwt, bool opens_console, std::string_view client = "10.0.0.5") {
    const std::string target = "/websockify?token=" + jwt;
    ConsoleRequest req{target, "", "gw.example", ""};
    req.client = client;
    req.opens_console = opens_console;
    const Authority authority{env_.policy, env_.verifier, *env_.hypervisors,
                              env_.routes, &security_,    replay_ ? &*replay_ : nullptr};
    return run(env_.io, authorize(authority, req));
  }
  std::string one_time(std::string_view uuid, std::string jti,
                       std::optional<ConsoleKind> console = std::nullopt) {
    token::MintRequest request;
    request.host_id = "lab";
    request.uuid = std::string(uuid);
    request.console = console;
    request.jti = std::move(jti);
    return token::mint(env_.signer, request);
  }
  std::optional<ReplayGuard> replay_{std::in_place};
};

TEST_F(AuthorizeOneTime, OpensOnceAndThePageDoesNotUseItUp) {
  const std::string jwt = one_time(kWeb01, "id-1");
  EXPECT_TRUE(open(jwt, false));  // the console page
  EXPECT_TRUE(open(jwt, false));
  EXPECT_TRUE(open(jwt, true));  // the WebSocket
  const Decision again = open(jwt, true);
  ASSERT_FALSE(again);
  EXPECT_EQ(close_code(again.refused.code), 4401);
  EXPECT_EQ(again.refused.reason, "token already used");
  EXPECT_EQ(again.host_id, "lab");
  // The page now says so too, and another token's ID is its own.
  EXPECT_EQ(open(jwt, false).refused.reason, "token already used");
  EXPECT_TRUE(open(one_time(kWeb01, "id-2"), true));
}

TEST_F(AuthorizeOneTime, ARefusedConsoleDoesNotUseItUp) {
  const std::string jwt = one_time(kStopped, "id-3");
  EXPECT_EQ(open(jwt, true).refused.reason, "domain not running");
  EXPECT_EQ(open(jwt, true).refused.reason, "domain not running");
  EXPECT_EQ(replay_->remembered(), 0u);
}

TEST_F(AuthorizeOneTime, SpiceChannelsFollowFromTheSameClientOnly) {
  const std::string jwt = one_time(kSpice, "id-4", ConsoleKind::spice);
  EXPECT_TRUE(open(jwt, true, "10.0.0.5"));  // main channel
  EXPECT_TRUE(open(jwt, true, "10.0.0.5"));  // display, inputs, ...
  const Decision other = open(jwt, true, "10.0.0.6");
  EXPECT_EQ(other.refused.reason, "token already used");
  // VNC has one connection: no grace.
  const std::string once = one_time(kWeb01, "id-5");
  EXPECT_TRUE(open(once, true, "10.0.0.5"));
  EXPECT_FALSE(open(once, true, "10.0.0.5"));
}

TEST_F(AuthorizeOneTime, WithoutAGuardTheyAreRefused) {
  replay_.reset();
  const Decision d = open(one_time(kWeb01, "id-6"), true);
  EXPECT_EQ(close_code(d.refused.code), 4401);
  EXPECT_EQ(d.refused.reason, "one-time tokens not enabled");
  // Tokens without a jti are not affected.
  token::MintRequest request;
  request.host_id = "lab";
  request.uuid = std::string(kWeb01);
  EXPECT_TRUE(open(token::mint(env_.signer, request), true));
}

TEST_F(AuthorizeConsoleSecurity, ViewOnlyVncIsCarriedOnTheTarget) {
  lab();  // the defaults: the RFB layer on
  const Decision d = ask(kWeb01, true);
  ASSERT_TRUE(d) << d.refused.reason;
  EXPECT_TRUE(d.target->view_only);
  EXPECT_EQ(d.target->security, &security_.at("lab"));
}

TEST_F(AuthorizeConsoleSecurity, ViewOnlyNeedsTheRfbLayer) {
  lab().rfb = false;
  const Decision d = ask(kWeb01, true);
  ASSERT_FALSE(d);
  EXPECT_EQ(close_code(d.refused.code), 4409);
  EXPECT_EQ(d.refused.reason, "view-only needs the gateway's VNC security");
}

TEST_F(AuthorizeConsoleSecurity, ViewOnlySpiceIsRefused) {
  const Decision d = ask(kSpice, true);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.refused.reason, "view-only is not available for SPICE consoles");
}

TEST_F(AuthorizeConsoleSecurity, PasswordFileGoesToVncConsolesOnly) {
  lab().password = "fromfile";
  const Decision to_vnc = ask(kWeb01);
  ASSERT_TRUE(to_vnc);
  EXPECT_EQ(to_vnc.target->console_password, std::optional<std::string>("fromfile"));
  const Decision to_spice = ask(kSpice);
  ASSERT_TRUE(to_spice);
  EXPECT_FALSE(to_spice.target->console_password.has_value());
}

TEST_F(AuthorizeConsoleSecurity, TlsOnlySpiceGoesToItsTlsPortWithConsoleCa) {
  const auto [cert, key] = env_.scratch.tls_certificate("console");
  HostConfig host;
  host.id = "lab";
  host.console_ca = cert;
  lab() = load_host_security(host, "test");
  const Decision d = ask(kTls);
  ASSERT_TRUE(d) << d.refused.reason;
  EXPECT_TRUE(d.target->tls);
  EXPECT_EQ(d.target->path.kind, PathKind::direct_tcp);
  EXPECT_EQ(d.target->path.address, "127.0.0.1");
  EXPECT_EQ(d.target->path.port, 5906);
}

TEST(HostSecurityLoading, UnreadableFilesNameTheKey) {
  test::Scratch scratch;
  HostConfig host;
  host.id = "kvm1";
  host.vnc_password_file = scratch.path("missing.vncpass");
  try {
    load_host_security(host, "gw.toml");
    FAIL() << "accepted a missing password file";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "gw.toml: hosts.kvm1.vnc_password_file: cannot read " + host.vnc_password_file);
  }
  host.vnc_password_file.clear();
  host.console_ca = scratch.write("empty-ca.pem", "");
  try {
    load_host_security(host, "gw.toml");
    FAIL() << "accepted an empty CA file";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("gw.toml: hosts.kvm1.console_ca")) << e.what();
  }
}

}  // namespace
}  // namespace cgw::gateway
