#include "core/base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/base/test_util.h"

namespace porthole {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(FileTest, PathParts) {
  EXPECT_EQ(DirName("/etc/porthole/keys.toml"), "/etc/porthole");
  EXPECT_EQ(DirName("keys.toml"), ".");
  EXPECT_EQ(DirName("/keys.toml"), "/");
  EXPECT_EQ(BaseName("/etc/porthole/keys.toml"), "keys.toml");
  EXPECT_EQ(BaseName("keys.toml"), "keys.toml");
}

TEST(FileTest, ReadFile) {
  TempDir d;
  Write(d.Join("a"), std::string("x\0y", 3));
  auto r = ReadFile(d.Join("a"), 100);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, std::string("x\0y", 3));
  EXPECT_EQ(ReadFile(d.Join("a"), 2).status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(ReadFile(d.Join("missing"), 10).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(ReadFile(d.path(), 10).status().message(),
            d.path() + ": not a regular file");
}

TEST(FileTest, ReadFileRefusesSymlinkUnlessAsked) {
  TempDir d;
  Write(d.Join("real"), "data");
  ASSERT_EQ(symlink(d.Join("real").c_str(), d.Join("link").c_str()), 0);
  auto r = ReadFile(d.Join("link"), 100);
  EXPECT_EQ(r.status().message(),
            d.Join("link") + ": is a symbolic link; refusing it");
  EXPECT_EQ(*ReadFile(d.Join("link"), 100, true), "data");
}

TEST(FileTest, AtomicReplaceCreatesWithMode) {
  TempDir d;
  ASSERT_TRUE(AtomicReplace(d.Join("f"), "hello",
                            ReplaceOptions::NewMode(0600))
                  .ok());
  EXPECT_EQ(*ReadFile(d.Join("f"), 100), "hello");
  struct stat st;
  ASSERT_EQ(stat(d.Join("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(CountEntries(d.path()), 1u);  // no temporary left behind
}

TEST(FileTest, AtomicReplaceKeepsModeAndOwner) {
  TempDir d;
  Write(d.Join("f"), "old");
  ASSERT_EQ(chmod(d.Join("f").c_str(), 0640), 0);
  if (geteuid() == 0) {
    ASSERT_EQ(chown(d.Join("f").c_str(), 4321, 4322), 0);
  }
  ASSERT_TRUE(AtomicReplace(d.Join("f"), "new").ok());
  struct stat st;
  ASSERT_EQ(stat(d.Join("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 4321u);
    EXPECT_EQ(st.st_gid, 4322u);
  }
  EXPECT_EQ(*ReadFile(d.Join("f"), 100), "new");
}

TEST(FileTest, AtomicReplaceNewFileTakesDirectoryOwnerAsRoot) {
  if (geteuid() != 0) {
    GTEST_FAIL() << "this test needs root (CI runs as root)";
  }
  TempDir d;
  ASSERT_EQ(mkdir(d.Join("home").c_str(), 0700), 0);
  ASSERT_EQ(chown(d.Join("home").c_str(), 5001, 5002), 0);
  ASSERT_TRUE(AtomicReplace(d.Join("home/f"), "x").ok());
  struct stat st;
  ASSERT_EQ(stat(d.Join("home/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 5001u);
  EXPECT_EQ(st.st_gid, 5002u);
}

TEST(FileTest, AtomicReplaceRefusesSymlinkTarget) {
  TempDir d;
  Write(d.Join("real"), "keep");
  ASSERT_EQ(symlink(d.Join("real").c_str(), d.Join("link").c_str()), 0);
  Status s = AtomicReplace(d.Join("link"), "evil");
  EXPECT_EQ(s.message(), d.Join("link") + ": is a symbolic link; refusing it");
  EXPECT_EQ(*ReadFile(d.Join("real"), 100), "keep");
}

// Full-disk and read-only failures are proven with real mounts in
// tests/e2e/keys_fullfs.sh (root ignores permission bits, so they cannot be
// faked here).

TEST(FileTest, MakeDirs) {
  TempDir d;
  ASSERT_TRUE(MakeDirs(d.Join("a/b/c"), 0755).ok());
  EXPECT_TRUE(std::filesystem::is_directory(d.Join("a/b/c")));
  EXPECT_TRUE(MakeDirs(d.Join("a/b/c"), 0755).ok());
  Write(d.Join("file"), "");
  EXPECT_EQ(MakeDirs(d.Join("file"), 0755).message(),
            d.Join("file") + ": exists and is not a directory");
}

}  // namespace
}  // namespace porthole
