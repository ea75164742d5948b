// console-gw: parse the command line, then serve or mint a token.
// Configuration problems print one line and exit with status 2.
#include "admin/commands.hpp"
#include "common/log.hpp"
#include "gateway/cli.hpp"
#include "gateway/replay.hpp"
#include "gateway/server.hpp"
#include "token/token.hpp"

#include <openssl/rand.h>
#include <boost/system/system_error.hpp>

#include <csignal>
#include <iostream>
#include <optional>

#include <sys/resource.h>

namespace {

constexpr int exit_config = 2;

// Each session holds two descriptors; take all the kernel allows this process.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// 128 random bits in hex: a one-time token's ID.
std::string random_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes");
  static constexpr char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

// Returns the token, or nullopt after printing one line to stderr.
std::optional<std::string> make_token(const cgw::gateway::TokenCommand& cmd) {
  using namespace cgw::token;
  try {
    const SigningKey key = SigningKey::load_file(cmd.signing_key);
    MintRequest request;
    request.host_id = cmd.host_id;
    request.uuid = cmd.uuid;
    if (cmd.console) request.console = cgw::parse_console_kind(*cmd.console);
    request.view_only = cmd.view_only;
    request.device = cmd.device;
    request.force = cmd.force;
    request.record = cmd.record;
    if (cmd.one_time) request.jti = random_id();
    request.ttl = cmd.ttl;
    request.audience = cmd.audience;
    return mint(key, request);
  } catch (const KeyError& e) {
    std::cerr << "console-gw: --signing-key: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "console-gw: " << e.what() << "\n";
  }
  return std::nullopt;
}

int mint_token(const cgw::gateway::TokenCommand& cmd) {
  const auto token = make_token(cmd);
  if (!token) return exit_config;
  std::cout << *token << "\n";
  return 0;
}

int print_url(const cgw::gateway::UrlCommand& cmd) {
  const auto token = make_token(cmd.token);
  if (!token) return exit_config;
  std::cout << cgw::gateway::console_url(cmd.config, *token) << "\n";
  return 0;
}

// A reload reads the configuration as the start did: the same file, the same
// flags over it. Throws ConfigError when it is broken now.
cgw::gateway::Config read_config_again(const std::vector<std::string>& args) {
  auto command = cgw::gateway::parse_command_line(args);
  return std::move(std::get<cgw::gateway::ServeCommand>(command).config);
}

int serve(cgw::gateway::Config config, const std::vector<std::string>& args) {
  cgw::log::Level level{};
  cgw::log::parse_level(config.log_level, level);
  cgw::log::set_level(level);
  cgw::log::Format format{};
  cgw::log::parse_format(config.log_format, format);
  cgw::log::set_format(format);
  raise_descriptor_limit();
  const std::string listen = config.listen + ":" + std::to_string(config.port);
  std::signal(SIGPIPE, SIG_IGN);
  try {
    cgw::gateway::Server server(std::move(config));
    // The signals first: start() tells systemd it is ready, which may signal at once.
    server.stop_on_signals();
    server.reload_on_sighup([args] { return read_config_again(args); });
    server.start();
    server.run();
    return 0;
  } catch (const cgw::gateway::ConfigError& e) {
    std::cerr << "console-gw: " << e.what() << "\n";
    return exit_config;
  } catch (const boost::system::system_error& e) {
    std::cerr << "console-gw: cannot listen on " << listen << ": " << e.code().message() << "\n";
    return 1;
  } catch (const std::system_error& e) {
    std::cerr << "console-gw: cannot listen on " << listen << ": " << e.code().message() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  if (args.size() > 1 && args[1] == "setup") return cgw::admin::setup_main(args);
  if (args.size() > 1 && args[1] == "check") return cgw::admin::check_main(args);
  cgw::gateway::Command command;
  try {
    command = cgw::gateway::parse_command_line(args);
  } catch (const cgw::gateway::ConfigError& e) {
    std::cerr << "console-gw: " << e.what() << "\n";
    return exit_config;
  }
  if (auto* help = std::get_if<cgw::gateway::HelpCommand>(&command)) {
    std::cout << help->text;
    return 0;
  }
  if (std::holds_alternative<cgw::gateway::VersionCommand>(command)) {
    std::cout << "console-gw " CGW_VERSION "\n";
    return 0;
  }
  if (auto* token = std::get_if<cgw::gateway::TokenCommand>(&command)) return mint_token(*token);
  if (auto* url = std::get_if<cgw::gateway::UrlCommand>(&command)) return print_url(*url);
  if (auto* replay = std::get_if<cgw::gateway::ReplayCommand>(&command)) {
    return cgw::gateway::run_replay(*replay);
  }
  return serve(std::move(std::get<cgw::gateway::ServeCommand>(command).config), args);
}
