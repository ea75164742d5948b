#include "tests/support/domains.hpp"

#include "tests/support/log_archive.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace cgw::test {
namespace {

void quiet(void*, virErrorPtr) {}

// The tests' connection to qemu:///system, opened on first use and again after
// reconnect_libvirt().
virConnectPtr& shared_connection() {
  static virConnectPtr conn = nullptr;
  return conn;
}

virConnectPtr connection() {
  virConnectPtr& conn = shared_connection();
  if (!conn) {
    virSetErrorFunc(nullptr, quiet);
    conn = virConnectOpen("qemu:///system");
    if (!conn)
      throw std::runtime_error("tests: cannot connect to qemu:///system (is libvirtd running?)");
  }
  return conn;
}

std::string last_error() {
  virErrorPtr err = virGetLastError();
  return err && err->message ? err->message : "unknown libvirt error";
}

std::string domain_xml(const std::string& type, const std::string& name,
                       const std::string& devices) {
  return "<domain type='" + type + "'><name>" + name +
         "</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
         "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>" +
         devices + "</devices></domain>";
}

std::string domain_xml(const std::string& name, const DomainSpec& spec) {
  return "<domain type='" + (spec.type.empty() ? domain_type() : spec.type) + "'><name>" + name +
         "</name><memory unit='MiB'>" + std::to_string(spec.memory_mib) +
         "</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>" + spec.os +
         "</os><devices>" + spec.devices + "</devices></domain>";
}

struct DomainPtr {
  virDomainPtr ptr;
  ~DomainPtr() {
    if (ptr) virDomainFree(ptr);
  }
};

}  // namespace

void reconnect_libvirt() {
  virConnectPtr& conn = shared_connection();
  if (conn) virConnectClose(conn);
  conn = nullptr;
}

const std::string& domain_type() {
  static const std::string type = [] {
    // Try a throwaway KVM domain once; TCG is the fallback.
    const std::string probe =
        domain_xml("kvm", "cgw-test-kvm-probe-" + std::to_string(getpid()), "");
    DomainPtr dom{virDomainCreateXML(connection(), probe.c_str(), VIR_DOMAIN_START_AUTODESTROY)};
    if (!dom.ptr) return std::string("qemu");
    virDomainDestroy(dom.ptr);
    return std::string("kvm");
  }();
  return type;
}

TestDomain::TestDomain(std::string name, const std::string& devices, Start start)
    : name_(std::move(name)) {
  record_passwords_in(devices);
  const std::string xml = domain_xml(domain_type(), name_, devices);
  DomainPtr dom{nullptr};
  if (start == Start::running) {
    dom.ptr = virDomainCreateXML(connection(), xml.c_str(), 0);
  } else {
    dom.ptr = virDomainDefineXML(connection(), xml.c_str());
    persistent_ = true;
  }
  if (!dom.ptr)
    throw std::runtime_error("tests: cannot create domain " + name_ + ": " + last_error());
  char uuid[VIR_UUID_STRING_BUFLEN];
  virDomainGetUUIDString(dom.ptr, uuid);
  uuid_ = uuid;
}

TestDomain::TestDomain(std::string name, const DomainSpec& spec) : name_(std::move(name)) {
  const std::string xml = domain_xml(name_, spec);
  record_passwords_in(xml);
  DomainPtr dom{virDomainCreateXML(connection(), xml.c_str(), 0)};
  if (!dom.ptr)
    throw std::runtime_error("tests: cannot create domain " + name_ + ": " + last_error());
  char uuid[VIR_UUID_STRING_BUFLEN];
  virDomainGetUUIDString(dom.ptr, uuid);
  uuid_ = uuid;
}

TestDomain::~TestDomain() {
  destroy();
  if (persistent_) {
    DomainPtr dom{virDomainLookupByName(connection(), name_.c_str())};
    if (dom.ptr) virDomainUndefine(dom.ptr);
  }
}

void TestDomain::destroy() {
  DomainPtr dom{virDomainLookupByName(connection(), name_.c_str())};
  if (dom.ptr && virDomainIsActive(dom.ptr) == 1) virDomainDestroy(dom.ptr);
}

std::string TestDomain::live_xml() const {
  DomainPtr dom{virDomainLookupByName(connection(), name_.c_str())};
  if (!dom.ptr) return {};
  char* xml = virDomainGetXMLDesc(dom.ptr, 0);
  std::string out = xml ? xml : "";
  std::free(xml);
  return out;
}

}  // namespace cgw::test
