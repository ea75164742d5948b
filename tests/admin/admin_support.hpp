// Running the real console-gw for the setup and check tests, and seeing a
// `--root` tree as the live system: a mount namespace of the command's own in
// which that tree's /etc/console-gw and /var/lib/console-gw are bind-mounted
// over the real ones. The machine's own folders are not touched.
#pragma once

#include <string>
#include <vector>

namespace cgw::admin::test {

struct Ran {
  int status = -1;
  std::string output;  // standard output and error together
};

// Runs a shell command line; standard input from /dev/null.
Ran sh(const std::string& command);

// Runs console-gw with `args` (each quoted).
Ran console_gw(const std::vector<std::string>& args);

// `command` in a mount namespace where `root`'s gateway folders are the system's.
std::string in_root(const std::string& root, const std::string& command);

std::string quote(const std::string& text);
std::string slurp(const std::string& path);

}  // namespace cgw::admin::test
