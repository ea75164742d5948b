// Asker: where `console-gw setup` gets its answers. Interactively from a
// terminal (a prompt with the detected default in brackets; Enter takes it), or
// from an answers file (TOML) for automation, where a missing key takes the
// default. Both print the question and the answer, so a non-interactive run's
// output reads like the interactive one's.
#pragma once

#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::admin {

// A wrong answer in an answers file, or standard input closed mid-way:
// one line naming the file, the key and the problem.
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A change that could not be made (a file, a command): exit status 1, not 2.
class ApplyError : public SetupError {
 public:
  using SetupError::SetupError;
};

// Returns an empty string when `answer` is acceptable, else the problem.
using Validator = std::string (*)(const std::string& answer);

class Asker {
 public:
  virtual ~Asker() = default;
  // `key` names the answer in an answers file ("fqdn", "tls.mode", "hosts.2.uri").
  virtual std::string ask(const std::string& key, const std::string& prompt,
                          const std::string& fallback, Validator validate = nullptr) = 0;
  // A yes/no question, shown with [Y/n] or [y/N]. An answers file gives true or false.
  virtual bool confirm(const std::string& key, const std::string& prompt, bool fallback) = 0;
  // The hypervisor hosts of an answers file ([[hosts]] tables: their count);
  // nullopt when interactive (ask until an empty ID).
  virtual std::optional<std::size_t> host_count() const = 0;
};

// Prompts on `out`, reads lines from `in`. A wrong answer is explained and asked again.
std::unique_ptr<Asker> terminal_asker(std::istream& in, std::ostream& out);

// Answers from a TOML file; throws SetupError when it can't be read.
std::unique_ptr<Asker> answers_asker(const std::string& path, std::ostream& out);

}  // namespace cgw::admin
