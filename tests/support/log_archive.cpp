#include "tests/support/log_archive.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace cgw::test {
namespace {

const char* archive_dir() {
  const char* dir = std::getenv("CGW_TEST_LOG_ARCHIVE");
  return dir && *dir ? dir : nullptr;
}

// A file name for `file` that no other test process or scratch directory uses.
std::string archived_name(const std::filesystem::path& root, const std::filesystem::path& file) {
  static std::atomic<unsigned> counter{0};
  std::string relative = file.lexically_relative(root).string();
  for (char& c : relative) {
    if (c == '/') c = '_';
  }
  return std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" + relative;
}

}  // namespace

void archive_logs(const std::filesystem::path& dir) {
  const char* archive = archive_dir();
  if (!archive) return;
  std::error_code ec;
  std::filesystem::create_directories(archive, ec);
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->path().extension() != ".log") continue;
    std::error_code copy_error;
    std::filesystem::copy_file(
        it->path(), std::filesystem::path(archive) / archived_name(dir, it->path()), copy_error);
  }
}

void record_secret(std::string_view secret) {
  const char* archive = archive_dir();
  if (!archive || secret.empty() || secret.find('\n') != std::string_view::npos) return;
  std::error_code ec;
  std::filesystem::create_directories(archive, ec);
  const std::string file = std::string(archive) + "/secrets.txt";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  // One write per line: test processes running in parallel append whole lines.
  const std::string line = std::string(secret) + "\n";
  [[maybe_unused]] const ssize_t written = ::write(fd, line.data(), line.size());
  ::close(fd);
}

void record_tokens_in(std::string_view text) {
  for (std::string_view::size_type at = text.find("token="); at != std::string_view::npos;
       at = text.find("token=", at + 1)) {
    const std::string_view rest = text.substr(at + 6);
    const std::string_view value = rest.substr(0, rest.find_first_of("&; ,#"));
    // Short values are test inputs such as "token=x", not credentials.
    if (value.size() >= 16) record_secret(value);
  }
  // A JWS as the target's last path segment ("/<token>") or a whole value.
  const std::string_view path = text.substr(0, text.find('?'));
  const std::string_view last = path.substr(path.rfind('/') + 1);
  if (last.size() >= 40 && last.find('.') != last.rfind('.')) record_secret(last);
}

void record_passwords_in(std::string_view xml) {
  for (const std::string_view quote : {"passwd='", "passwd=\""}) {
    for (auto at = xml.find(quote); at != std::string_view::npos; at = xml.find(quote, at + 1)) {
      const std::string_view rest = xml.substr(at + quote.size());
      record_secret(rest.substr(0, rest.find(quote.back())));
    }
  }
}

}  // namespace cgw::test
