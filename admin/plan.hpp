// Plan: what `console-gw setup` will change, gathered first and applied last,
// so that --dry-run can show it all and a re-run changes only what differs.
// Paths are as the installed system sees them; `root` (--root) prefixes them.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace cgw::admin {

struct FileStep {
  std::string path;
  std::string content;
  unsigned mode = 0644;
  // Who owns it on a live system, when the service's account exists: root with the
  // service's group (files it reads), or the service's account (its ~/.ssh).
  enum class Owner { root, root_service_group, service } owner = Owner::root;
  bool keep_existing = false;  // a key: written only when the file is absent
};

struct LinkStep {
  std::string path;
  std::string target;
};

struct CommandStep {
  std::vector<std::string> argv;
  std::string why;
};

class Plan {
 public:
  explicit Plan(std::string root) : root_(std::move(root)) {}

  void write(FileStep step) { files_.push_back(std::move(step)); }
  void link(LinkStep step) { links_.push_back(std::move(step)); }
  void run(CommandStep step) { commands_.push_back(std::move(step)); }
  // Runs before any file is written (creating the service's account).
  void run_first(CommandStep step) { first_.push_back(std::move(step)); }

  // The path under the root.
  std::string under_root(const std::string& path) const;
  bool on_live_system() const { return root_ == "/" || root_.empty(); }

  // Prints each step: "create", "update", "unchanged", "keep".
  void describe(std::ostream& out) const;
  // Applies every step; prints each as it goes. Throws SetupError on the first failure.
  void apply(std::ostream& out) const;

 private:
  std::string status_of(const FileStep& step) const;

  std::string root_;
  std::vector<FileStep> files_;
  std::vector<LinkStep> links_;
  std::vector<CommandStep> first_;
  std::vector<CommandStep> commands_;
};

// The service's account and group, as the .deb and setup create them.
inline constexpr const char* service_account = "console-gw";

// Runs argv (no shell); returns its exit status, its output in `output`.
int run_program(const std::vector<std::string>& argv, std::string* output = nullptr);

std::string read_file(const std::string& path);  // "" when it can't be read

}  // namespace cgw::admin
