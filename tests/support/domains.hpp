// Real QEMU domains on the real libvirtd (qemu:///system) for tests. KVM when
// QEMU can use it, TCG otherwise. Each TestDomain removes itself.
#pragma once

#include <string>

namespace cgw::test {

// A domain beyond the default BIOS-only one: its type, memory and the XML
// inside <os> next to <type> (a kernel to boot, its initrd and command line).
struct DomainSpec {
  std::string type;  // "kvm" or "qemu"; empty: domain_type()
  unsigned memory_mib = 64;
  std::string os;       // inside <os>, after <type>
  std::string devices;  // inside <devices>
};

class TestDomain {
 public:
  enum class Start { running, defined_only };
  // `devices` is the XML inside <devices> (graphics, video). Throws on failure.
  TestDomain(std::string name, const std::string& devices, Start start = Start::running);
  // A running domain as `spec` says. Throws on failure.
  TestDomain(std::string name, const DomainSpec& spec);
  ~TestDomain();
  TestDomain(const TestDomain&) = delete;
  TestDomain& operator=(const TestDomain&) = delete;

  const std::string& uuid() const { return uuid_; }
  const std::string& name() const { return name_; }
  std::string live_xml() const;
  void destroy();  // stops the VM (power off); the definition stays until the destructor

 private:
  std::string name_;
  std::string uuid_;
  bool persistent_ = false;
};

// After a test restarted libvirtd: the next call opens a new connection (the
// old one is dead, though without an event loop it does not know yet).
void reconnect_libvirt();

// "kvm" or "qemu", decided once per process by trying KVM.
const std::string& domain_type();

}  // namespace cgw::test
