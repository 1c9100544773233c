#include "core/keys/strict_modes.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/base/test_util.h"

namespace porthole::keys {
namespace {

// Test dirs live under a private root-owned directory: TempDir's parent
// (/tmp) is world-writable, which is exactly what StrictModes rejects.
TEST(StrictModesTest, WorldWritableAncestorIsReported) {
  TempDir d;  // under /tmp (1777)
  std::ofstream(d.Join("keys")) << "x\n";
  chmod(d.Join("keys").c_str(), 0644);
  auto p = StrictModesProblem(d.Join("keys"), 0, "");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, "bad ownership or modes for directory /tmp");
}

TEST(StrictModesTest, FileAndDirectoryModes) {
  TempDir d;
  const std::string home = d.path();  // stop the walk at the "home"
  chmod(home.c_str(), 0755);
  std::ofstream(d.Join("keys")) << "x\n";
  chmod(d.Join("keys").c_str(), 0644);
  EXPECT_FALSE(StrictModesProblem(d.Join("keys"), 0, home).has_value());
  chmod(d.Join("keys").c_str(), 0664);
  EXPECT_EQ(*StrictModesProblem(d.Join("keys"), 0, home),
            "bad ownership or modes for file " + d.Join("keys"));
  chmod(d.Join("keys").c_str(), 0644);
  chmod(home.c_str(), 0775);
  EXPECT_EQ(*StrictModesProblem(d.Join("keys"), 0, home),
            "bad ownership or modes for directory " + home);
  chmod(home.c_str(), 0755);
  if (geteuid() == 0) {  // ownership by someone else
    ASSERT_EQ(chown(d.Join("keys").c_str(), 4242, 4242), 0);
    EXPECT_EQ(*StrictModesProblem(d.Join("keys"), 1234, home),
              "bad ownership or modes for file " + d.Join("keys"));
    EXPECT_FALSE(StrictModesProblem(d.Join("keys"), 4242, home).has_value());
  }
  EXPECT_FALSE(StrictModesProblem(d.Join("missing"), 0, home).has_value());
}

}  // namespace
}  // namespace porthole::keys
