#include "admin/asker.hpp"

#include <toml++/toml.h>

#include <cctype>
#include <istream>
#include <ostream>

namespace cgw::admin {
namespace {

// "y", "yes", "n", "no" in any case; nullopt for anything else.
std::optional<bool> yes_no(const std::string& answer) {
  std::string lower;
  for (char c : answer) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "y" || lower == "yes" || lower == "true") return true;
  if (lower == "n" || lower == "no" || lower == "false") return false;
  return std::nullopt;
}

const char* brackets(bool fallback) { return fallback ? " [Y/n]: " : " [y/N]: "; }

std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

class TerminalAsker final : public Asker {
 public:
  TerminalAsker(std::istream& in, std::ostream& out) : in_(in), out_(out) {}

  std::string ask(const std::string&, const std::string& prompt, const std::string& fallback,
                  Validator validate) override {
    for (;;) {
      out_ << prompt << " [" << fallback << "]: " << std::flush;
      std::string answer = read_line();
      if (answer.empty()) answer = fallback;
      const std::string problem = validate ? validate(answer) : std::string();
      if (problem.empty()) return answer;
      out_ << "  " << problem << "\n";
    }
  }
  bool confirm(const std::string&, const std::string& prompt, bool fallback) override {
    for (;;) {
      out_ << prompt << brackets(fallback) << std::flush;
      const std::string line = read_line();
      if (line.empty()) return fallback;
      if (auto answer = yes_no(line)) return *answer;
      out_ << "  answer yes or no\n";
    }
  }
  std::optional<std::size_t> host_count() const override { return std::nullopt; }

 private:
  // The next line, trimmed; input that ends is an error that names the way out.
  std::string read_line() {
    std::string line;
    if (!std::getline(in_, line)) {
      out_ << "\n";
      throw SetupError(
          "standard input ended before every question was answered "
          "(for a run without a terminal, use --answers FILE)");
    }
    return trim(line);
  }

  std::istream& in_;
  std::ostream& out_;
};

class AnswersAsker final : public Asker {
 public:
  AnswersAsker(std::string path, toml::table answers, std::ostream& out)
      : path_(std::move(path)), answers_(std::move(answers)), out_(out) {}

  std::string ask(const std::string& key, const std::string& prompt, const std::string& fallback,
                  Validator validate) override {
    std::string answer = fallback;
    if (const toml::node* node = find(key)) {
      if (node->is_boolean()) {
        answer = node->value_or(false) ? "yes" : "no";
      } else if (node->is_string()) {
        answer = node->value_or(std::string());
      } else if (node->is_integer()) {
        answer = std::to_string(node->value_or(std::int64_t{0}));
      } else {
        throw SetupError(path_ + ": " + key + ": must be a string, a number or true/false");
      }
    }
    out_ << prompt << " [" << fallback << "]: " << answer << "\n";
    if (validate) {
      if (std::string problem = validate(answer); !problem.empty()) {
        throw SetupError(path_ + ": " + key + ": " + problem);
      }
    }
    return answer;
  }

  bool confirm(const std::string& key, const std::string& prompt, bool fallback) override {
    bool answer = fallback;
    if (const toml::node* node = find(key)) {
      std::optional<bool> given;
      if (node->is_boolean()) given = node->value_or(false);
      if (node->is_string()) given = yes_no(node->value_or(std::string()));
      if (!given) throw SetupError(path_ + ": " + key + ": must be true or false");
      answer = *given;
    }
    out_ << prompt << brackets(fallback) << (answer ? "yes" : "no") << "\n";
    return answer;
  }

  std::optional<std::size_t> host_count() const override {
    const toml::array* hosts = answers_["hosts"].as_array();
    return hosts ? hosts->size() : 0;
  }

 private:
  // "tls.mode" or "hosts.1.uri" (the second [[hosts]] table's uri).
  const toml::node* find(const std::string& key) const {
    const toml::node* node = &answers_;
    std::size_t start = 0;
    while (node && start <= key.size()) {
      const auto dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? dot : dot - start);
      if (const toml::table* table = node->as_table()) {
        node = table->get(part);
      } else if (const toml::array* array = node->as_array()) {
        node = array->get(static_cast<std::size_t>(std::stoul(part)));
      } else {
        node = nullptr;
      }
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return node;
  }

  std::string path_;
  toml::table answers_;
  std::ostream& out_;
};

}  // namespace

std::unique_ptr<Asker> terminal_asker(std::istream& in, std::ostream& out) {
  return std::make_unique<TerminalAsker>(in, out);
}

std::unique_ptr<Asker> answers_asker(const std::string& path, std::ostream& out) {
  try {
    return std::make_unique<AnswersAsker>(path, toml::parse_file(path), out);
  } catch (const toml::parse_error& err) {
    const auto& where = err.source().begin;
    throw SetupError(path + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
                     ": " + std::string(err.description()));
  }
}

}  // namespace cgw::admin
