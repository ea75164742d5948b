// StaticFiles: serves files below one directory (the noVNC client, by default
// Debian's /usr/share/novnc). No directory listings; no path outside the root:
// a symbolic link is followed only when it resolves inside the root or one of
// the link roots (gateway.static_link_roots).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cgw::gateway {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root,
                       const std::vector<std::filesystem::path>& link_roots = {});

  // The file for a decoded request path, or nullopt when there is none to serve
  // (missing, a directory, a path that tries to leave the root, or a link that
  // resolves outside the root and the link roots).
  std::optional<std::filesystem::path> resolve(std::string_view decoded_path) const;

  static std::string_view content_type(const std::filesystem::path& file);

 private:
  std::filesystem::path root_;
  std::vector<std::filesystem::path> allowed_;  // root_ and the link roots, resolved
};

}  // namespace cgw::gateway
