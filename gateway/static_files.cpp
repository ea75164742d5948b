#include "gateway/static_files.hpp"

#include <cctype>
#include <map>

namespace cgw::gateway {

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
  // Symbolic links are followed: the root is a directory the operator chose
  // (Debian's novnc links vnc_auto.html to vnc.html), not one users write to.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) return std::nullopt;
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
