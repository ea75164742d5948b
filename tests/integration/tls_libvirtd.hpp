// A libvirtd of the tests' own whose QEMUs put VNC behind VeNCrypt/X.509 and
// SPICE behind TLS, with certificates made at run time.
//
// It runs in mount and PID namespaces of its own, where /etc/libvirt,
// /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are
// directories of its scratch dir (its qemu.conf among them): the system
// libvirtd, which other tests use at the same time, never sees it. Root's
// qemu:///session is no way round this, as it is the system daemon's privileged
// driver. When the test process dies, however it dies, the namespace dies with
// it and the kernel kills the daemon and its QEMUs.
//
// Used from the test thread only.
#pragma once

#include "tests/support/process.hpp"
#include "tests/support/scratch.hpp"

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cgw::test::tls {

// Makes `dir` a CA and what it signed, under QEMU's file names: ca-cert.pem
// (and ca-key.pem), server-cert.pem and server-key.pem (CN localhost, SAN
// IP:127.0.0.1 and DNS:localhost), client-cert.pem and client-key.pem.
void make_pki(const std::string& dir, const std::string& ca_name);

class TlsLibvirtd {
 public:
  struct Options {
    bool verify_clients = true;  // vnc_tls_x509_verify
    // The daemon's VNC and SPICE ports come from [base + offset, base + offset + 49],
    // where base depends on the process (two builds' runs at once do not
    // compete), away from the system daemon's (from 5900) and below the kernel's
    // ephemeral ports. Two daemons of one process need offsets 50 apart.
    std::uint16_t display_port_offset = 0;
  };
  // Removes what earlier test processes killed before their cleanup left (see
  // remove_leftovers), starts the daemon with the certificates in `pki_dir`
  // (see make_pki) and waits until it answers. Throws with the daemon's log
  // when it does not.
  TlsLibvirtd(const std::string& pki_dir, Options options);
  // Destroys the domains still running on it, then ends the namespace.
  ~TlsLibvirtd();
  TlsLibvirtd(const TlsLibvirtd&) = delete;
  TlsLibvirtd& operator=(const TlsLibvirtd&) = delete;

  // "qemu:///system?socket=<its socket>": reaches this daemon only.
  const std::string& uri() const { return uri_; }
  std::string log() const;

 private:
  friend class TlsDomain;
  struct Connection;
  void stop();

  Scratch scratch_;
  std::string uri_;
  pid_t unshare_ = -1;  // unshare(1), our child
  pid_t init_ = -1;     // the namespace's first process, as this namespace sees it
  std::unique_ptr<Connection> conn_;
};

// A running transient domain on a TlsLibvirtd: 64 MiB, no disk, KVM when it
// works, else TCG. Destroyed by its destructor.
class TlsDomain {
 public:
  // Named "cgw-it-tls<what>-<pid>"; `devices` is the XML inside <devices>.
  // Throws with libvirt's message.
  TlsDomain(const TlsLibvirtd& daemon, const std::string& what, const std::string& devices);
  ~TlsDomain();
  TlsDomain(const TlsDomain&) = delete;
  TlsDomain& operator=(const TlsDomain&) = delete;

  const std::string& name() const { return name_; }
  const std::string& uuid() const { return uuid_; }
  std::string live_xml() const;

 private:
  const TlsLibvirtd& daemon_;
  std::string name_;
  std::string uuid_;
};

// Marks `scratch` as this process's, for remove_leftovers().
void mark_owner(const Scratch& scratch);
// What test processes that were killed left behind: their marked scratch
// directories, and the (empty) cgroups that libvirt made for their QEMUs and
// could not remove as the namespace died with it.
void remove_leftovers();

// Child processes and free ports: tests/support/process.hpp.
using ::cgw::test::free_port;
using ::cgw::test::spawn;

}  // namespace cgw::test::tls
