#include "sshd_fixture.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cgw::tunnel::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool accepts_connections(const std::string& listen, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  ::inet_pton(AF_INET, listen.c_str(), &address.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// Every process whose parent chain leads to `root`, from /proc.
std::vector<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  if (DIR* proc = ::opendir("/proc")) {
    while (dirent* entry = ::readdir(proc)) {
      const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
      if (pid <= 0) continue;
      const std::string stat = read_file("/proc/" + std::string(entry->d_name) + "/stat");
      // "pid (comm) state ppid ...": comm may hold spaces, so parse after the last ')'.
      const auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(stat.substr(close + 1));
      char state = 0;
      pid_t parent = 0;
      rest >> state >> parent;
      children.emplace(parent, pid);
    }
    ::closedir(proc);
  }
  std::vector<pid_t> found;
  std::vector<pid_t> todo{root};
  while (!todo.empty()) {
    const pid_t pid = todo.back();
    todo.pop_back();
    auto [first, last] = children.equal_range(pid);
    for (auto it = first; it != last; ++it) {
      found.push_back(it->second);
      todo.push_back(it->second);
    }
  }
  return found;
}

}  // namespace

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void stop_process(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

std::string run_command(const std::string& command) {
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    ::pclose(pipe);
  }
  return output;
}

KeyPair generate_key(const std::string& path, const std::string& type) {
  std::string command = std::string(CGW_TEST_SSH_KEYGEN) + " -q -t " + type +
                        (type == "rsa" ? " -b 2048" : "") + " -N '' -C cgw-test -f " + path +
                        " </dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("ssh-keygen failed");
  std::string line = read_file(path + ".pub");
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return {path, line};
}

std::string openssh_fingerprint(const std::string& public_key_path) {
  // "256 SHA256:xxxx comment (ED25519)"
  std::istringstream words(
      run_command(std::string(CGW_TEST_SSH_KEYGEN) + " -l -E sha256 -f " + public_key_path));
  std::string bits, fingerprint;
  words >> bits >> fingerprint;
  return fingerprint;
}

Sshd::Sshd(std::string dir, std::uint16_t port, std::string host_key, std::string authorized_keys,
           std::string listen)
    : dir_(std::move(dir)),
      listen_(std::move(listen)),
      port_(port),
      config_(dir_ + "/sshd_config." + std::to_string(port)),
      log_(dir_ + "/sshd." + std::to_string(port) + ".log") {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  // libssh2 1.10 signs with RSA only as "ssh-rsa" (SHA-1), which OpenSSH 8.8+
  // refuses unless told otherwise; see docs/deployment.md.
  write_file(config_, "ListenAddress " + listen_ +
                          "\n"
                          "Port " +
                          std::to_string(port_) +
                          "\n"
                          "HostKey " +
                          host_key +
                          "\n"
                          "PidFile " +
                          dir_ + "/sshd." + std::to_string(port_) +
                          ".pid\n"
                          "AuthorizedKeysFile " +
                          authorized_keys +
                          "\n"
                          "PubkeyAuthentication yes\n"
                          "PubkeyAcceptedAlgorithms +ssh-rsa\n"
                          "PasswordAuthentication no\n"
                          "KbdInteractiveAuthentication no\n"
                          "PermitRootLogin prohibit-password\n"
                          "AllowTcpForwarding yes\n"
                          "AllowStreamLocalForwarding yes\n"
                          "StrictModes no\n"
                          "UsePAM no\n"
                          "LogLevel ERROR\n");
}

Sshd::~Sshd() { kill_all(); }

void Sshd::start() {
  ::mkdir("/run/sshd", 0755);
  pid_ = spawn({CGW_TEST_SSHD, "-D", "-e", "-f", config_}, log_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!accepts_connections(listen_, port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("sshd exited: " + read_file(log_));
    }
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("sshd did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void Sshd::kill_all() {
  if (pid_ <= 0) return;
  const std::vector<pid_t> others = descendants(pid_);
  signal_all(SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  // sshd's own children come to this process once their parents are dead (it is
  // a child subreaper, see Sshd::Sshd); reap them rather than leave zombies.
  for (pid_t pid : others) {
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) break;
      if (::kill(pid, 0) != 0) break;  // reaped by its own parent already
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

void Sshd::pause_all() { signal_all(SIGSTOP); }

void Sshd::resume_all() { signal_all(SIGCONT); }

void Sshd::signal_all(int signal_number) {
  if (pid_ <= 0) return;
  for (pid_t child : descendants(pid_)) ::kill(child, signal_number);
  ::kill(pid_, signal_number);
}

}  // namespace cgw::tunnel::test
