#include "admin/probes.hpp"

#include "libvirt_adapter/libvirt_handles.hpp"
#include "tunnel/libssh2_handles.hpp"
#include "tunnel/ssh_host_keys.hpp"

#include <libssh2.h>
#include <openssl/evp.h>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <memory>

namespace cgw::admin {
namespace {

// A socket descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

std::string home_of_current_user() {
  if (const passwd* pw = getpwuid(geteuid()); pw && pw->pw_dir) return pw->pw_dir;
  const char* home = std::getenv("HOME");
  return home ? home : "/";
}

// Connects within `timeout`; returns the descriptor or -1 with `why` set.
int connect_tcp(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout,
                std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    why = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);
  for (addrinfo* a = found; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        why = "SSH connection to " + host + ":" + service + " timed out";
        ::close(fd);
        continue;
      }
      int error = 0;
      socklen_t len = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
      errno = error;
      rc = error == 0 ? 0 : -1;
    }
    if (rc == 0) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      return fd;
    }
    why = "SSH connection to " + host + ":" + service + " failed: " + std::strerror(errno);
    ::close(fd);
  }
  return -1;
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

const char* verdict_name(tunnel::HostKeyCheck::Verdict v) {
  using V = tunnel::HostKeyCheck::Verdict;
  switch (v) {
    case V::trusted:
      return "trusted";
    case V::unknown:
      return "unknown";
    case V::changed:
      return "changed";
    case V::revoked:
      return "revoked";
    case V::no_known_hosts:
      return "no known_hosts";
    case V::no_host_key:
      return "no host key";
  }
  return "?";
}

bool authenticate_with_agent(LIBSSH2_SESSION* session, const std::string& user) {
  LIBSSH2_AGENT* agent = libssh2_agent_init(session);
  if (!agent) return false;
  bool ok = false;
  if (libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0) {
    libssh2_agent_publickey* previous = nullptr;
    libssh2_agent_publickey* identity = nullptr;
    while (!ok && libssh2_agent_get_identity(agent, &identity, previous) == 0) {
      ok = libssh2_agent_userauth(agent, user.c_str(), identity) == 0;
      previous = identity;
    }
    libssh2_agent_disconnect(agent);
  }
  libssh2_agent_free(agent);
  return ok;
}

}  // namespace

std::string effective_known_hosts(const tunnel::SshSettings& settings) {
  return settings.known_hosts.empty() ? home_of_current_user() + "/.ssh/known_hosts"
                                      : settings.known_hosts;
}

namespace {

// In the probe's child: connect, and write "1<detail>" or "0<detail>" to `fd`.
[[noreturn]] void libvirt_child(const std::string& uri, bool read_write, int fd) {
  // Errors are reported here, not printed by libvirt's default handler.
  virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
  std::string answer;
  libvirt::Connection conn(read_write ? virConnectOpen(uri.c_str())
                                      : virConnectOpenReadOnly(uri.c_str()));
  if (!conn) {
    const virErrorPtr error = virGetLastError();
    answer = std::string("0") + (error && error->message ? error->message : "cannot connect");
  } else {
    unsigned long version = 0;
    virConnectGetLibVersion(conn.get(), &version);
    char* hostname = virConnectGetHostname(conn.get());
    answer = "1libvirt " + std::to_string(version / 1000000) + "." +
             std::to_string(version / 1000 % 1000) + "." + std::to_string(version % 1000) +
             (hostname ? std::string(" on ") + hostname : std::string());
    std::free(hostname);
  }
  for (std::size_t done = 0; done < answer.size();) {
    const ssize_t n = ::write(fd, answer.data() + done, answer.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  // No exit handlers: whatever libvirt holds goes with the process.
  _exit(0);
}

}  // namespace

LibvirtProbe probe_libvirt(const std::string& uri, bool read_write,
                           std::chrono::milliseconds timeout) {
  // libvirt has no connect timeout of its own, so the attempt runs in a child
  // process, killed when it is late. libvirt's state stays in the child too.
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {false, std::string("pipe: ") + std::strerror(errno)};
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {false, std::string("fork: ") + std::strerror(errno)};
  }
  if (child == 0) {
    ::close(fds[0]);
    libvirt_child(uri, read_write, fds[1]);
  }
  ::close(fds[1]);
  Fd reader(fds[0]);
  std::string answer;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool late = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{reader.get(), POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      late = true;
      break;
    }
    char buffer[1024];
    const ssize_t n = ::read(reader.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
  }
  if (late) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (late) return {false, "no answer within " + std::to_string(timeout.count() / 1000) + " s"};
  if (answer.empty()) return {false, "the probe ended without an answer"};
  return {answer[0] == '1', answer.substr(1)};
}

SshProbe probe_ssh(const tunnel::SshSettings& settings, bool authenticate,
                   std::chrono::milliseconds timeout) {
  tunnel::ensure_libssh2_initialised();
  SshProbe probe;
  std::string why;
  Fd fd(connect_tcp(settings.host, settings.port, timeout, why));
  if (fd.get() < 0) {
    probe.detail = why;
    return probe;
  }
  tunnel::SessionHandle session(libssh2_session_init());
  libssh2_session_set_blocking(session.get(), 1);
  libssh2_session_set_timeout(session.get(), static_cast<long>(timeout.count()));
  if (libssh2_session_handshake(session.get(), fd.get()) != 0) {
    probe.stage = SshProbe::Stage::handshake_failed;
    probe.detail = "SSH handshake failed: " + tunnel::last_error_message(session.get());
    return probe;
  }
  probe.stage = SshProbe::Stage::host_key;
  std::size_t length = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(session.get(), &length, &type);
  if (key) probe.key_base64 = base64(reinterpret_cast<const unsigned char*>(key), length);
  const std::string known_hosts = effective_known_hosts(settings);
  const tunnel::HostKeyCheck check =
      tunnel::check_host_key(session.get(), known_hosts, settings.host, settings.port);
  probe.key_type = check.key_type;
  probe.fingerprint = check.fingerprint;
  probe.key_verdict = verdict_name(check.verdict);
  probe.key_trusted = check.verdict == tunnel::HostKeyCheck::Verdict::trusted;
  if (!probe.key_trusted) {
    probe.detail = "host key not trusted: " + probe.key_verdict + " " + check.key_type + " key " +
                   check.fingerprint + " in " + known_hosts;
    return probe;
  }
  if (!authenticate) {
    probe.detail = "host key " + check.key_type + " " + check.fingerprint + " trusted";
    return probe;
  }
  const std::string user = settings.user.empty()
                               ? (getpwuid(geteuid()) ? getpwuid(geteuid())->pw_name : "root")
                               : settings.user;
  bool ok = false;
  if (settings.use_agent) {
    ok = authenticate_with_agent(session.get(), user);
  } else if (!settings.key_file.empty()) {
    ok = libssh2_userauth_publickey_fromfile_ex(session.get(), user.c_str(),
                                                static_cast<unsigned>(user.size()), nullptr,
                                                settings.key_file.c_str(), nullptr) == 0;
  }
  if (!ok) {
    probe.stage = SshProbe::Stage::auth_failed;
    probe.detail =
        "SSH authentication as " + user + " failed" +
        (settings.use_agent ? std::string(" with the agent's keys")
         : settings.key_file.empty()
             ? std::string(": neither ssh_key nor ssh_agent is set")
             : " with " + settings.key_file + ": " + tunnel::last_error_message(session.get()));
    return probe;
  }
  probe.stage = SshProbe::Stage::ok;
  probe.detail = "logged in as " + user + ", host key " + check.key_type + " " + check.fingerprint;
  libssh2_session_disconnect(session.get(), "console-gw check done");
  return probe;
}

std::string libvirt_uri_with_ssh_files(const std::string& uri, const std::string& key_file,
                                       const std::string& known_hosts) {
  const auto parsed = tunnel::parse_libvirt_uri(uri);
  if (!parsed || parsed->transport != "ssh" || key_file.empty() || known_hosts.empty() ||
      uri.find("keyfile=") != std::string::npos)
    return uri;
  std::string out = uri;
  out.replace(0, out.find("://"), parsed->driver + "+libssh2");
  out += std::string(out.find('?') == std::string::npos ? "?" : "&") +
         "sshauth=privkey&keyfile=" + key_file + "&known_hosts=" + known_hosts;
  return out;
}

std::string known_hosts_line(const tunnel::SshSettings& settings, const SshProbe& probe) {
  const std::string host = settings.port == 22
                               ? settings.host
                               : "[" + settings.host + "]:" + std::to_string(settings.port);
  return host + " " + probe.key_type + " " + probe.key_base64;
}

}  // namespace cgw::admin
