#include "admin/plan.hpp"

#include "admin/asker.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

namespace cgw::admin {
namespace {

namespace fs = std::filesystem;

void write_atomically(const std::string& path, const std::string& content, unsigned mode,
                      FileStep::Owner owner) {
  const fs::path target(path);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) throw ApplyError("cannot create " + target.parent_path().string() + ": " + ec.message());
  const std::string temporary = path + ".console-gw-setup";
  {
    // Created with the final mode, so a secret is never readable by others.
    const mode_t old = ::umask(0077);
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    ::umask(old);
    if (!file || !(file << content) || !file.flush())
      throw ApplyError("cannot write " + path + ": " + std::strerror(errno));
  }
  if (::chmod(temporary.c_str(), mode) != 0)
    throw ApplyError("cannot chmod " + path + ": " + std::strerror(errno));
  if (owner != FileStep::Owner::root) {
    const passwd* user = ::getpwnam(service_account);
    const group* g = ::getgrnam(service_account);
    if (user && g) {
      const uid_t uid = owner == FileStep::Owner::service ? user->pw_uid : 0;
      if (::chown(temporary.c_str(), uid, g->gr_gid) != 0)
        throw ApplyError("cannot chown " + path + ": " + std::strerror(errno));
    }
  }
  fs::rename(temporary, target, ec);
  if (ec) throw ApplyError("cannot write " + path + ": " + ec.message());
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return {};
  std::ostringstream text;
  text << file.rdbuf();
  return std::move(text).str();
}

int run_program(const std::vector<std::string>& argv, std::string* output) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output) *output = std::move(text);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string Plan::under_root(const std::string& path) const {
  if (on_live_system()) return path;
  return (fs::path(root_) / fs::path(path).relative_path()).string();
}

std::string Plan::status_of(const FileStep& step) const {
  const std::string path = under_root(step.path);
  if (!fs::exists(path)) return "create";
  if (step.keep_existing) return "keep";
  return read_file(path) == step.content ? "unchanged" : "update";
}

namespace {

void run_step(const CommandStep& c, std::ostream& out) {
  std::string output;
  std::string line;
  for (const std::string& a : c.argv) line += (line.empty() ? "" : " ") + a;
  const int status = run_program(c.argv, &output);
  if (status != 0) {
    while (!output.empty() && output.back() == '\n') output.pop_back();
    throw ApplyError("`" + line + "` failed (exit " + std::to_string(status) + "): " + output);
  }
  out << "  ran  " << line << "\n";
}

void describe_step(const CommandStep& c, std::ostream& out) {
  out << "  run";
  for (const std::string& a : c.argv) out << " " << a;
  out << "  (" << c.why << ")\n";
}

}  // namespace

void Plan::describe(std::ostream& out) const {
  for (const CommandStep& c : first_) describe_step(c, out);
  for (const FileStep& f : files_) out << "  " << status_of(f) << "  " << f.path << "\n";
  for (const LinkStep& l : links_) {
    std::error_code ec;
    const bool same = fs::read_symlink(under_root(l.path), ec) == l.target;
    out << "  " << (same ? "unchanged" : "link") << "  " << l.path << " -> " << l.target << "\n";
  }
  for (const CommandStep& c : commands_) describe_step(c, out);
}

void Plan::apply(std::ostream& out) const {
  for (const CommandStep& c : first_) run_step(c, out);
  for (const FileStep& f : files_) {
    const std::string status = status_of(f);
    if (status == "create" || status == "update") {
      write_atomically(under_root(f.path), f.content, f.mode,
                       on_live_system() ? f.owner : FileStep::Owner::root);
    }
    out << "  "
        << (status == "create"   ? "created"
            : status == "update" ? "updated"
            : status == "keep"   ? "kept"
                                 : "unchanged")
        << "  " << f.path << "\n";
  }
  for (const LinkStep& l : links_) {
    const std::string path = under_root(l.path);
    std::error_code ec;
    if (fs::read_symlink(path, ec) == l.target) {
      out << "  unchanged  " << l.path << "\n";
      continue;
    }
    fs::create_directories(fs::path(path).parent_path(), ec);
    fs::remove(path, ec);
    fs::create_symlink(l.target, path, ec);
    if (ec) throw ApplyError("cannot link " + l.path + ": " + ec.message());
    out << "  linked  " << l.path << " -> " << l.target << "\n";
  }
  for (const CommandStep& c : commands_) run_step(c, out);
}

}  // namespace cgw::admin
