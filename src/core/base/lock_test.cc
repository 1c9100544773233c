#include "core/base/lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/test_util.h"

namespace porthole {
namespace {

TEST(LockTest, SecondLockWaitsOrFails) {
  TempDir d;
  auto first = FileLock::Exclusive(d.path(), FileLock::Wait::kBlock);
  ASSERT_TRUE(first.ok()) << first.status().message();
  // flock locks belong to the open file description: a second open in this
  // process conflicts just as another process would.
  auto second = FileLock::Exclusive(d.path(), FileLock::Wait::kNoWait);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(second.status().message(),
            d.path() + ": locked by another process");
}

TEST(LockTest, ReleasedOnDestruction) {
  TempDir d;
  {
    auto first = FileLock::Exclusive(d.path(), FileLock::Wait::kBlock);
    ASSERT_TRUE(first.ok());
  }
  EXPECT_TRUE(FileLock::Exclusive(d.path(), FileLock::Wait::kNoWait).ok());
}

TEST(LockTest, BlocksAcrossProcesses) {
  TempDir d;
  auto held = FileLock::Exclusive(d.path(), FileLock::Wait::kBlock);
  ASSERT_TRUE(held.ok());
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  pid_t pid = fork();
  if (pid == 0) {
    auto l = FileLock::Exclusive(d.path(), FileLock::Wait::kNoWait);
    char c = l.ok() ? 'y' : 'n';
    (void)!write(pipefd[1], &c, 1);
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(pipefd[0], &c, 1), 1);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(c, 'n');
}

TEST(LockTest, CreateMakesMissingFile) {
  TempDir d;
  EXPECT_EQ(FileLock::Exclusive(d.Join("x.lock"), FileLock::Wait::kBlock)
                .status()
                .code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(
      FileLock::Exclusive(d.Join("x.lock"), FileLock::Wait::kBlock, true).ok());
}

}  // namespace
}  // namespace porthole
