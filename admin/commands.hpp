// The `console-gw setup` and `console-gw check` command lines. Each returns the
// process's exit status; usage errors print one line and return 2.
#pragma once

#include <string>
#include <vector>

namespace cgw::admin {

int setup_main(const std::vector<std::string>& args);  // args[1] == "setup"
int check_main(const std::vector<std::string>& args);  // args[1] == "check"

}  // namespace cgw::admin
