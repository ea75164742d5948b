#include "tls_libvirtd.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cgw::test::tls {
namespace {

using namespace std::chrono_literals;

void quiet(void*, virErrorPtr) {}

std::string last_error() {
  virErrorPtr err = virGetLastError();
  return err && err->message ? err->message : "unknown libvirt error";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct DomainPtr {
  virDomainPtr ptr;
  ~DomainPtr() {
    if (ptr) virDomainFree(ptr);
  }
};

// Gone, or a zombie that is not ours to reap.
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

// The qemu.conf of the daemon: TLS on for both console kinds. QEMU runs as root
// so that it may read certificates in a root-only scratch directory, and logs to
// files, as there is no virtlogd in the namespace.
std::string qemu_conf(const std::string& pki, const TlsLibvirtd::Options& o) {
  const int first = 25900 + static_cast<int>(::getpid() % 60) * 100 + o.display_port_offset;
  return "vnc_tls = 1\n"
         "vnc_tls_x509_cert_dir = \"" +
         pki + "\"\nvnc_tls_x509_verify = " + (o.verify_clients ? "1" : "0") +
         "\nspice_tls = 1\n"
         "spice_tls_x509_cert_dir = \"" +
         pki + "\"\nremote_display_port_min = " + std::to_string(first) +
         "\nremote_display_port_max = " + std::to_string(first + 49) +
         "\nuser = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\n"
         "security_driver = \"none\"\nstdio_handler = \"file\"\n";
}

// Runs inside the new namespaces, as their first process ($1: the scratch dir).
// The private /run keeps the system daemon's pid file and sockets out of sight;
// the bind mounts give libvirtd our config and state. Its socket lands in
// $1/run, where the tests (outside) reach it. This shell stays PID 1: it reaps
// the QEMUs that libvirt daemonises, and its exit ends the namespace.
constexpr const char* kOwnerFile = "cgw-tls-owner";
const std::regex kDomainCgroup(R"(qemu-\d+-cgw-it-tls.*-(\d+)\.libvirt-qemu)");

bool alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

void remove_cgroup(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) remove_cgroup(entry.path());
  ::rmdir(dir.c_str());
}

// libvirt puts a QEMU's cgroup in a "machine" cgroup next to its own, in every
// hierarchy; a few levels down from /sys/fs/cgroup is deep enough.
void remove_dead_cgroups(const std::filesystem::path& dir, int depth) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (std::regex_match(name, m, kDomainCgroup)) {
      if (!alive(static_cast<pid_t>(std::stol(m[1].str())))) remove_cgroup(entry.path());
    } else if (depth > 0) {
      remove_dead_cgroups(entry.path(), depth - 1);
    }
  }
}

constexpr const char* kNamespaceInit = R"(set -e
S=$1
mount -t tmpfs tmpfs /run
mkdir /run/libvirt
mount --bind "$S/run" /run/libvirt
mount --bind "$S/etc" /etc/libvirt
mount --bind "$S/lib" /var/lib/libvirt
mount --bind "$S/cache" /var/cache/libvirt
mount --bind "$S/log" /var/log/libvirt
/usr/sbin/libvirtd &
d=$!
trap 'kill -TERM $d' TERM
while kill -0 $d 2>/dev/null; do wait || true; done
)";

}  // namespace

struct TlsLibvirtd::Connection {
  virConnectPtr ptr = nullptr;
  ~Connection() {
    if (ptr) virConnectClose(ptr);
  }
};

void make_pki(const std::string& dir, const std::string& ca_name) {
  // Key usages as QEMU's certificate checks want them (GnuTLS): a CA that may
  // sign, leaves that are no CA, with digital signature and key encipherment.
  run("{ set -e; mkdir -p '" + dir + "'; cd '" + dir +
      "'\n"
      "ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
      "openssl req -x509 $ec -days 2 -subj /CN=" +
      ca_name +
      " -keyout ca-key.pem -out ca-cert.pem"
      " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign\n"
      "for who in server client; do\n"
      "  if [ $who = server ]; then cn=localhost; eku=serverAuth; else cn=cgw-test-client; "
      "eku=clientAuth; fi\n"
      "  openssl req -new $ec -subj /CN=$cn -keyout $who-key.pem -out $who.csr\n"
      "  printf 'basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature,"
      "keyEncipherment\\nextendedKeyUsage=%s\\nsubjectAltName=IP:127.0.0.1,DNS:localhost\\n' "
      "$eku > $who.ext\n"
      "  openssl x509 -req -in $who.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial"
      " -days 2 -extfile $who.ext -out $who-cert.pem\n"
      "done\n"
      "rm -f *.csr *.ext *.srl\n}");
}

void mark_owner(const Scratch& scratch) { scratch.write(kOwnerFile, std::to_string(::getpid())); }

void remove_leftovers() {
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::temp_directory_path(), ec)) {
    if (entry.path().filename().string().rfind("cgw-test-", 0) != 0) continue;
    pid_t owner = 0;
    std::istringstream(slurp((entry.path() / kOwnerFile).string())) >> owner;
    if (owner > 0 && !alive(owner)) std::filesystem::remove_all(entry.path(), ec);
  }
  remove_dead_cgroups("/sys/fs/cgroup", 4);
}

TlsLibvirtd::TlsLibvirtd(const std::string& pki_dir, Options options)
    : conn_(std::make_unique<Connection>()) {
  virSetErrorFunc(nullptr, quiet);
  remove_leftovers();
  mark_owner(scratch_);
  for (const char* d : {"etc", "run", "lib", "cache", "log"})
    std::filesystem::create_directories(scratch_.dir() / d);
  scratch_.write("etc/qemu.conf", qemu_conf(pki_dir, options));
  scratch_.write("etc/libvirtd.conf", "");
  const std::string socket = scratch_.path("run/libvirt-sock");
  uri_ = "qemu:///system?socket=" + socket;

  // unshare's --kill-child makes the namespace's first process die with
  // unshare, and spawn() makes unshare die with us.
  unshare_ = spawn({"/usr/bin/unshare", "--mount", "--propagation", "private", "--pid", "--fork",
                    "--kill-child=SIGKILL", "--mount-proc", "/bin/bash", "-c", kNamespaceInit,
                    "init", scratch_.dir().string()},
                   scratch_.path("libvirtd.log"));
  const std::string children =
      "/proc/" + std::to_string(unshare_) + "/task/" + std::to_string(unshare_) + "/children";
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(unshare_, nullptr, WNOHANG) == unshare_) {
      unshare_ = -1;
      throw std::runtime_error("tests: the TLS libvirtd exited:\n" + log());
    }
    if (init_ <= 0) {
      std::istringstream(slurp(children)) >> init_;
    }
    if (std::filesystem::exists(socket)) {
      conn_->ptr = virConnectOpen(uri_.c_str());
      if (conn_->ptr) return;
    }
    std::this_thread::sleep_for(50ms);
  }
  stop();
  throw std::runtime_error("tests: the TLS libvirtd does not answer:\n" + log());
}

TlsLibvirtd::~TlsLibvirtd() { stop(); }

std::string TlsLibvirtd::log() const { return slurp(scratch_.path("libvirtd.log")); }

void TlsLibvirtd::stop() {
  // Destroy what runs first, so that libvirt removes the QEMUs' cgroups itself.
  if (conn_ && conn_->ptr) {
    virDomainPtr* domains = nullptr;
    const int n = virConnectListAllDomains(conn_->ptr, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    for (int i = 0; i < n; ++i) {
      virDomainDestroy(domains[i]);
      virDomainFree(domains[i]);
    }
    std::free(domains);
    virConnectClose(conn_->ptr);
    conn_->ptr = nullptr;
  }
  if (unshare_ > 0) {
    ::kill(unshare_, SIGKILL);
    ::waitpid(unshare_, nullptr, 0);
    unshare_ = -1;
  }
  // The namespace is gone when its first process is: the kernel has killed
  // everything else in it by then. Only then may the scratch dir go.
  for (int i = 0; init_ > 0 && i < 400 && !process_gone(init_); ++i)
    std::this_thread::sleep_for(25ms);
  init_ = -1;
}

TlsDomain::TlsDomain(const TlsLibvirtd& daemon, const std::string& what, const std::string& devices)
    : daemon_(daemon), name_("cgw-it-tls" + what + "-" + std::to_string(::getpid())) {
  // KVM when QEMU can use it, else TCG; decided by the first domain of the process.
  static std::string type = "kvm";
  auto xml = [&](const std::string& t) {
    return "<domain type='" + t + "'><name>" + name_ +
           "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>" +
           devices + "</devices></domain>";
  };
  DomainPtr dom{virDomainCreateXML(daemon_.conn_->ptr, xml(type).c_str(), 0)};
  if (!dom.ptr && type == "kvm") {
    type = "qemu";
    dom.ptr = virDomainCreateXML(daemon_.conn_->ptr, xml(type).c_str(), 0);
  }
  if (!dom.ptr)
    throw std::runtime_error("tests: cannot create domain " + name_ + ": " + last_error());
  char uuid[VIR_UUID_STRING_BUFLEN];
  virDomainGetUUIDString(dom.ptr, uuid);
  uuid_ = uuid;
}

TlsDomain::~TlsDomain() {
  DomainPtr dom{virDomainLookupByName(daemon_.conn_->ptr, name_.c_str())};
  if (dom.ptr && virDomainIsActive(dom.ptr) == 1) virDomainDestroy(dom.ptr);
}

std::string TlsDomain::live_xml() const {
  DomainPtr dom{virDomainLookupByName(daemon_.conn_->ptr, name_.c_str())};
  if (!dom.ptr) return {};
  char* xml = virDomainGetXMLDesc(dom.ptr, 0);
  std::string out = xml ? xml : "";
  std::free(xml);
  return out;
}

}  // namespace cgw::test::tls
