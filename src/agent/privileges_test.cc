#include "agent/privileges.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

#include "core/base/test_util.h"

namespace porthole::agent {
namespace {

// Runs `body` in a forked child and returns its exit status (the drop is
// for good, so the test process itself must keep root).
int InChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class PrivilegesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_FAIL() << "these tests need root (setuid)";
  }
};

TEST_F(PrivilegesTest, DropsForGood) {
  int rc = InChild([] {
    if (!DropPrivileges({"nobody", "nogroup"}).ok()) return 10;
    if (getuid() != 65534 || geteuid() != 65534 || getegid() != 65534) {
      return 11;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) return 12;
    gid_t groups[64];
    int n = getgroups(64, groups);
    for (int i = 0; i < n; ++i) {
      if (groups[i] == 0) return 13;  // root's groups are gone
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

TEST_F(PrivilegesTest, UnknownNamesAndRootAreRefusedByName) {
  Status s = DropPrivileges({"no-such-user-x", "nogroup"});
  EXPECT_EQ(s.message(),
            "device.unprivileged_user_group: no user 'no-such-user-x'");
  s = DropPrivileges({"nobody", "no-such-group-x"});
  EXPECT_EQ(s.message(),
            "device.unprivileged_user_group: no group 'no-such-group-x'");
  s = DropPrivileges({"root", "root"});
  EXPECT_EQ(s.message(),
            "device.unprivileged_user_group: 'root' is root; name an "
            "unprivileged user");
  EXPECT_EQ(geteuid(), 0u);  // nothing changed
}

TEST_F(PrivilegesTest, CheckWritableAfterTheDrop) {
  TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  const std::string sub = dir.Join("repo");
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(chown(sub.c_str(), 65534, 65534), 0);
  int rc = InChild([&] {
    if (!DropPrivileges({"nobody", "nogroup"}).ok()) return 10;
    // Owned by nobody: fine, also a file to be created inside it.
    if (!CheckWritable("k", sub).ok()) return 11;
    if (!CheckWritable("k", sub + "/a/b/new").ok()) return 12;
    // Root's 0755 directory: named, with owner and mode.
    Status s = CheckWritable("device.commands_dir", dir.Join("commands"));
    std::string want = "device.commands_dir: " + dir.Join("commands") +
                       " cannot be created: " + dir.path() +
                       " is not writable by uid 65534 (owner 0:0, mode 0755)";
    if (s.message() != want) {
      std::fprintf(stderr, "got: %s\nwant: %s\n", s.message().c_str(),
                   want.c_str());
      return 13;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace porthole::agent
