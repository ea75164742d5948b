// Child processes and ports for tests that start servers of their own (sshd,
// a libvirtd of their own, console-gw itself).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cgw::test {

// Starts `argv` (argv[0] a path) with standard input from /dev/null and
// standard output and error appended to `log`. The child is killed (SIGKILL)
// when this process dies, however it dies, so no test leaves one behind.
pid_t spawn(std::vector<std::string> argv, const std::string& log);

// A loopback port nobody listens on at the time of the call, for a server that
// another process starts afterwards: someone else may take it meanwhile. For a
// port that must refuse connections, use ClosedPort.
std::uint16_t free_port();

}  // namespace cgw::test
