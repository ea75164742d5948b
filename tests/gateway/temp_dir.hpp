// A scratch directory for the gateway tests: real files, removed afterwards.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace cgw::gateway::test {

// A fresh directory under the system temp dir, removed with its contents when
// the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `contents` to `name` (creating parent directories); returns its path.
  std::string write(std::string_view name, std::string_view contents) const;

 private:
  std::filesystem::path path_;
};

}  // namespace cgw::gateway::test
