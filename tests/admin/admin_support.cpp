#include "admin_support.hpp"

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cgw::admin::test {

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

Ran sh(const std::string& command) {
  Ran ran;
  FILE* pipe = ::popen(("exec </dev/null 2>&1; " + command).c_str(), "r");
  if (!pipe) return ran;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) ran.output.append(buffer, n);
  const int status = ::pclose(pipe);
  ran.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return ran;
}

Ran console_gw(const std::vector<std::string>& args) {
  std::string command = quote(CONSOLE_GW);
  for (const std::string& a : args) command += " " + quote(a);
  return sh(command);
}

std::string in_root(const std::string& root, const std::string& command) {
  // Mount points for the bind mounts; empty folders, left in place.
  for (const char* dir : {"/etc/console-gw", "/var/lib/console-gw"}) {
    std::filesystem::create_directories(dir);
    std::filesystem::create_directories(root + dir);
  }
  // exec: the shell that runs this becomes the command (unshare execs its
  // shell, which execs `command`), so a signal to it reaches the command and
  // nothing is left behind when it ends.
  return "exec unshare -m -- sh -c " +
         quote("mount --make-rprivate / && mount --bind " + quote(root + "/etc/console-gw") +
               " /etc/console-gw && mount --bind " + quote(root + "/var/lib/console-gw") +
               " /var/lib/console-gw && " + command);
}

std::string slurp(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace cgw::admin::test
