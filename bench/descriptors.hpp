// raise_descriptor_limit(): every cgw-bench process may need thousands of
// sockets (8,000 idle sessions), so it takes the hard limit as its soft one.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace cgw::bench {

// Returns the soft RLIMIT_NOFILE now in force.
inline std::uint64_t raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

}  // namespace cgw::bench
