#include "gateway/static_files.hpp"

#include <algorithm>
#include <cctype>
#include <map>

namespace cgw::gateway {
namespace {

// The path with every link resolved; the lexically normal path when it does not
// exist (yet): a root that is missing now serves nothing anyway.
std::filesystem::path resolved(const std::filesystem::path& path) {
  std::error_code ec;
  auto out = std::filesystem::canonical(path, ec);
  return ec ? path.lexically_normal() : out;
}

bool inside(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto dir_end = dir.end();
  if (dir_end != dir.begin() && std::prev(dir_end)->empty()) --dir_end;  // "dir/"
  return std::mismatch(dir.begin(), dir_end, path.begin(), path.end()).first == dir_end;
}

}  // namespace

StaticFiles::StaticFiles(std::filesystem::path root,
                         const std::vector<std::filesystem::path>& link_roots)
    : root_(std::move(root)) {
  allowed_.push_back(resolved(root_));
  for (const auto& dir : link_roots) allowed_.push_back(resolved(dir));
}

std::optional<std::filesystem::path> StaticFiles::resolve(std::string_view path) const {
  std::filesystem::path file = root_;
  // Walk the segments ourselves: "..", NUL and backslashes are refused outright
  // rather than normalised, so no spelling of a path climbs out of the root.
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    start = end + 1;
    if (segment.empty() || segment == ".") continue;
    if (segment == ".." || segment.find('\0') != std::string_view::npos ||
        segment.find('\\') != std::string_view::npos) {
      return std::nullopt;
    }
    file /= std::string(segment);
  }
  // A directory is 404 (never a listing). Symbolic links are followed only
  // where they resolve inside the root or a link root: Debian's novnc links
  // vnc_auto.html to vnc.html, and Debian's web packages link into
  // /usr/share/javascript; a link to /etc/shadow is nobody's file.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
  const auto real = std::filesystem::canonical(file, ec);
  if (ec) return std::nullopt;
  if (std::none_of(allowed_.begin(), allowed_.end(),
                   [&real](const std::filesystem::path& dir) { return inside(real, dir); })) {
    return std::nullopt;
  }
  return file;
}

std::string_view StaticFiles::content_type(const std::filesystem::path& file) {
  static const std::map<std::string, std::string_view, std::less<>> types = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
      {".ogg", "audio/ogg"},
      {".mp3", "audio/mpeg"},
      {".wav", "audio/wav"},
  };
  std::string extension = file.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto it = types.find(extension);
  return it == types.end() ? std::string_view("application/octet-stream") : it->second;
}

}  // namespace cgw::gateway
