// StaticFiles: serves files below one directory (the noVNC client, by default
// Debian's /usr/share/novnc). No directory listings; no path outside the root.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cgw::gateway {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root) : root_(std::move(root)) {}

  // The file for a decoded request path, or nullopt when there is none to serve
  // (missing, a directory, or a path that tries to leave the root).
  std::optional<std::filesystem::path> resolve(std::string_view decoded_path) const;

  static std::string_view content_type(const std::filesystem::path& file);

 private:
  std::filesystem::path root_;
};

}  // namespace cgw::gateway
