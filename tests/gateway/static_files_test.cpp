// StaticFiles over a real directory tree: what it serves, what it refuses.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/static_files.hpp"
#include "tests/support/scratch.hpp"

namespace cgw::gateway {
namespace {

namespace fs = std::filesystem;
using TempDir = ::cgw::test::Scratch;

std::string contents(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// <tmp>/root holds the web client; <tmp>/outside and <tmp>/secret.txt are what
// no request may reach.
class StaticFilesTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_.write("root/vnc.html", "<!doctype html>vnc");
    dir_.write("root/app/ui.js", "// ui");
    dir_.write("root/core/rfb.js", "// rfb");
    dir_.write("root/app/styles/base.css", "body{}");
    dir_.write("root/app/images/logo.svg", "<svg/>");
    dir_.write("root/README", "readme");
    dir_.write("root/x", "x in root");
    dir_.write("secret.txt", "secret");
    dir_.write("outside/secret.txt", "secret");
    fs::create_directories(root() / "empty_dir");
    fs::create_symlink("vnc.html", root() / "index.html");  // as Debian's novnc ships it
    fs::create_symlink("../core", root() / "app" / "core_link");
  }

  fs::path root() const { return dir_.dir() / "root"; }

  std::optional<std::string> served(std::string_view path) const {
    const auto file = files_.resolve(path);
    if (!file) return std::nullopt;
    return contents(*file);
  }

  TempDir dir_;
  StaticFiles files_{dir_.dir() / "root"};
};

TEST_F(StaticFilesTest, ServesFiles) {
  EXPECT_EQ(served("/vnc.html"), "<!doctype html>vnc");
  EXPECT_EQ(served("vnc.html"), "<!doctype html>vnc");
  EXPECT_EQ(served("/app/ui.js"), "// ui");
  EXPECT_EQ(served("/app/styles/base.css"), "body{}");
  EXPECT_EQ(served("/README"), "readme");
  // Empty and "." segments are no way out.
  EXPECT_EQ(served("//app//ui.js"), "// ui");
  EXPECT_EQ(served("/./app/./ui.js"), "// ui");
}

TEST_F(StaticFilesTest, ResolvesBelowTheRoot) {
  const auto file = files_.resolve("/app/ui.js");
  ASSERT_TRUE(file.has_value());
  EXPECT_TRUE(fs::equivalent(*file, root() / "app" / "ui.js"));
}

TEST_F(StaticFilesTest, SymlinksInsideTheRootAreServed) {
  EXPECT_EQ(served("/index.html"), "<!doctype html>vnc");
  EXPECT_EQ(served("/app/core_link/rfb.js"), "// rfb");
}

TEST_F(StaticFilesTest, RefusesClimbingOut) {
  // Each of these names a file that exists (relative to some directory), so a
  // refusal is the rule at work, not a missing file.
  for (std::string_view path :
       {"..", "/..", "../secret.txt", "/../secret.txt", "/../outside/secret.txt", "a/../../x",
        "/app/../../secret.txt", "/app/../x", "/../etc/passwd", "/app/..", "/app/../vnc.html",
        "/../x", "/app/../../../../../../etc/passwd"}) {
    EXPECT_EQ(files_.resolve(path), std::nullopt) << path;
  }
}

TEST_F(StaticFilesTest, RefusesBackslashes) {
  for (std::string_view path :
       {"\\..\\secret.txt", "/..\\secret.txt", "/app\\ui.js", "/app/ui.js\\", "\\vnc.html"}) {
    EXPECT_EQ(files_.resolve(path), std::nullopt) << path;
  }
}

TEST_F(StaticFilesTest, RefusesNul) {
  using namespace std::string_view_literals;
  EXPECT_EQ(files_.resolve("/vnc.html\0.png"sv), std::nullopt);
  EXPECT_EQ(files_.resolve("/app\0/ui.js"sv), std::nullopt);
  EXPECT_EQ(files_.resolve("\0"sv), std::nullopt);
}

TEST_F(StaticFilesTest, NoDirectories) {
  for (std::string_view path : {"", "/", "/app", "/app/", "/empty_dir", "/app/core_link", "."}) {
    EXPECT_EQ(files_.resolve(path), std::nullopt) << path;
  }
}

// Links that lead out of the root: to a file, to a directory, and a chain of
// links whose last hop leaves; none is served. Into a link root (as Debian's
// web packages link into /usr/share/javascript) they are.
TEST_F(StaticFilesTest, SymlinksOutOfTheRootAreRefused) {
  fs::create_symlink(dir_.dir() / "secret.txt", root() / "secret_abs.txt");
  fs::create_symlink("../secret.txt", root() / "secret_rel.txt");
  fs::create_symlink(dir_.dir() / "outside", root() / "outside_dir");
  fs::create_symlink("secret_rel.txt", root() / "chain.txt");
  fs::create_symlink("/etc/passwd", root() / "passwd");
  for (std::string_view path :
       {"/secret_abs.txt", "/secret_rel.txt", "/outside_dir/secret.txt", "/chain.txt", "/passwd"}) {
    EXPECT_EQ(files_.resolve(path), std::nullopt) << path;
  }

  const StaticFiles with_link_root(root(), {dir_.dir() / "outside"});
  const auto linked = with_link_root.resolve("/outside_dir/secret.txt");
  ASSERT_TRUE(linked.has_value());
  EXPECT_EQ(contents(*linked), "secret");
  // Only that directory: not its parent.
  EXPECT_EQ(with_link_root.resolve("/secret_abs.txt"), std::nullopt);
  EXPECT_EQ(with_link_root.resolve("/passwd"), std::nullopt);
  // A link root that shares a prefix with the target is not its parent.
  fs::create_directories(dir_.dir() / "outside2");
  dir_.write("outside2/x.txt", "x");
  fs::create_symlink(dir_.dir() / "outside2" / "x.txt", root() / "x2.txt");
  EXPECT_EQ(with_link_root.resolve("/x2.txt"), std::nullopt);
}

// A root reached through a link (/srv/web -> /opt/web) serves its own files.
TEST_F(StaticFilesTest, RootThatIsALinkServesItsFiles) {
  fs::create_directory_symlink(root(), dir_.dir() / "root_link");
  const StaticFiles linked(dir_.dir() / "root_link");
  const auto file = linked.resolve("/app/ui.js");
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(contents(*file), "// ui");
  EXPECT_EQ(linked.resolve("/../secret.txt"), std::nullopt);
}

// What Debian ships: every link in /usr/share/novnc and /usr/share/spice-html5
// resolves into the package's own folder or /usr/share/javascript (the default
// link roots), so the default configuration serves all of them.
TEST(StaticFilesDebian, PackagedLinksAreServed) {
  for (const char* const dir : {"/usr/share/novnc", "/usr/share/spice-html5"}) {
    if (!fs::is_directory(dir)) continue;
    const StaticFiles files(dir, {"/usr/share/javascript"});
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      if (!entry.is_symlink() || !fs::is_regular_file(entry.path())) continue;
      const std::string below = "/" + fs::relative(entry.path(), fs::path(dir)).string();
      EXPECT_TRUE(files.resolve(below).has_value()) << dir << below;
    }
  }
}

TEST_F(StaticFilesTest, MissingFiles) {
  for (std::string_view path : {"/nope.html", "/app/nope.js", "/nodir/ui.js", "/vnc.html/x"}) {
    EXPECT_EQ(files_.resolve(path), std::nullopt) << path;
  }
}

TEST(StaticFilesContentType, ByExtension) {
  EXPECT_EQ(StaticFiles::content_type("vnc.html"), "text/html; charset=utf-8");
  EXPECT_EQ(StaticFiles::content_type("/x/app/ui.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(StaticFiles::content_type("base.css"), "text/css; charset=utf-8");
  EXPECT_EQ(StaticFiles::content_type("logo.svg"), "image/svg+xml");
  EXPECT_EQ(StaticFiles::content_type("README"), "application/octet-stream");
  EXPECT_EQ(StaticFiles::content_type("data.bin"), "application/octet-stream");
  EXPECT_EQ(StaticFiles::content_type("archive.tar.gz"), "application/octet-stream");
}

}  // namespace
}  // namespace cgw::gateway
