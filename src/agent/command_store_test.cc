#include "agent/command_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "agent/test_ids.h"
#include "core/base/file.h"
#include "core/base/test_util.h"

namespace porthole::agent {
namespace {

void Write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class CommandStoreTest : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.Join("commands"); }
  std::string PathOf(const std::string& id) const {
    return Dir() + "/" + id + ".cmd";
  }
  TempDir tmp_;
  CommandStore store_{tmp_.Join("commands")};
};

TEST_F(CommandStoreTest, CreateMakesAnEmptyLockedPrivateRecord) {
  Result<CommandStore::Record> r = store_.Create(kId);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->id(), kId);
  EXPECT_EQ(r->path(), PathOf(kId));
  EXPECT_EQ(Mode(Dir()), 0700u);
  EXPECT_EQ(Mode(PathOf(kId)), 0600u);
  EXPECT_EQ(r->Read().value(), "");
  EXPECT_EQ(FilesIn(Dir()), std::set<std::string>{std::string(kId) + ".cmd"});

  // Locked: another open file description cannot take it.
  Result<CommandStore::Record> again = store_.Lock({kId, PathOf(kId)});
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(again.status().message(),
            PathOf(kId) + ": locked by another process");

  // Never a second record for the same command.
  Result<CommandStore::Record> second = store_.Create(kId);
  EXPECT_EQ(second.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(),
            PathOf(kId) + ": a record for this command exists");
  EXPECT_EQ(FilesIn(Dir()).size(), 1u);
}

TEST_F(CommandStoreTest, ReplaceIsAtomicAndKeepsTheLock) {
  std::optional<Result<CommandStore::Record>> r(store_.Create(kId));
  ASSERT_TRUE(r->ok());
  // Held open, the old file keeps its inode number to itself.
  UniqueFd old(open(PathOf(kId).c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE((*r)->Replace("first").ok());
  struct stat before, after;
  ASSERT_EQ(fstat(old.get(), &before), 0);
  ASSERT_EQ(stat(PathOf(kId).c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino);  // renamed over, not rewritten
  EXPECT_EQ(before.st_size, 0);
  ASSERT_TRUE((*r)->Replace("second").ok());
  EXPECT_EQ(ReadFile(PathOf(kId), 100).value(), "second");
  EXPECT_EQ((*r)->Read().value(), "second");
  EXPECT_EQ(Mode(PathOf(kId)), 0600u);
  // No temporary file is left behind.
  EXPECT_EQ(FilesIn(Dir()), std::set<std::string>{std::string(kId) + ".cmd"});
  // The new file is the locked one.
  EXPECT_EQ(store_.Lock({kId, PathOf(kId)}).status().code(),
            StatusCode::kUnavailable);
  // Released with the handle; the file stays.
  r.reset();
  Result<CommandStore::Record> relocked = store_.Lock({kId, PathOf(kId)});
  ASSERT_TRUE(relocked.ok()) << relocked.status().message();
  EXPECT_EQ(relocked->Read().value(), "second");
}

TEST_F(CommandStoreTest, RemoveDeletesTheRecord) {
  Result<CommandStore::Record> r = store_.Create(kId);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->Remove().ok());
  EXPECT_FALSE(PathExists(PathOf(kId)));
  EXPECT_EQ(r->Remove().code(), StatusCode::kInternal);
  EXPECT_EQ(r->Replace("x").code(), StatusCode::kInternal);
  // And the command may be recorded afresh (the runner's guard is
  // elsewhere).
  EXPECT_TRUE(store_.Create(kId).ok());
}

TEST_F(CommandStoreTest, ListFindsRecordsOnly) {
  EXPECT_TRUE(store_.List().value().empty());  // no directory yet
  EXPECT_FALSE(store_.Has(kId).value());
  ASSERT_TRUE(MakeDirs(Dir(), 0700).ok());
  Write(PathOf(kId2), "");
  // RAC's id in another spelling still names the same command.
  Write(Dir() + "/urn:tdx-ota:command:0B61A0C43F5E4C1E9A8E5A0D0E7C2F11.cmd",
        "");
  Write(Dir() + "/notes.txt", "");
  Write(Dir() + "/.cmd", "");
  Write(Dir() + "/garbage.cmd", "");
  Write(Dir() + "/urn:tdx-ota:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11.cmd", "");
  Write(Dir() + "/." + std::string(kId) + ".cmd.tmp.abcdef", "");
  ASSERT_TRUE(
      MakeDirs(
          Dir() +
              "/urn:tdx-ota:command:2b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11.cmd",
          0700)
          .ok());
  ASSERT_EQ(symlink(PathOf(kId2).c_str(),
                    (Dir() + "/urn:tdx-ota:command:3b61a0c4-3f5e-4c1e-9a8e-"
                             "5a0d0e7c2f11.cmd")
                        .c_str()),
            0);
  std::vector<CommandStore::Entry> entries = store_.List().value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, kId);
  EXPECT_EQ(
      entries[0].path,
      Dir() + "/urn:tdx-ota:command:0B61A0C43F5E4C1E9A8E5A0D0E7C2F11.cmd");
  EXPECT_EQ(entries[1].id, kId2);
  EXPECT_EQ(entries[1].path, PathOf(kId2));
  EXPECT_TRUE(store_.Has(kId).value());
  EXPECT_TRUE(store_.Has(kId2).value());
  EXPECT_FALSE(
      store_.Has("urn:tdx-ota:command:2b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11")
          .value());
}

TEST_F(CommandStoreTest, LockAdoptsARacRecord) {
  ASSERT_TRUE(MakeDirs(Dir(), 0755).ok());
  Write(PathOf(kId), "{\"rac\": 1}");
  Result<CommandStore::Record> r = store_.Lock({kId, PathOf(kId)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->Read().value(), "{\"rac\": 1}");
  EXPECT_EQ(store_.Lock({kId2, PathOf(kId2)}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(CommandStoreTest, LockedByRacIsUnavailable) {
  ASSERT_TRUE(MakeDirs(Dir(), 0755).ok());
  Write(PathOf(kId), "");
  UniqueFd rac(open(PathOf(kId).c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_EQ(flock(rac.get(), LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(store_.Lock({kId, PathOf(kId)}).status().code(),
            StatusCode::kUnavailable);
  rac.reset();
  EXPECT_TRUE(store_.Lock({kId, PathOf(kId)}).ok());
}

TEST_F(CommandStoreTest, StaleTemporariesAreRemovedUnlessLocked) {
  ASSERT_TRUE(MakeDirs(Dir(), 0700).ok());
  const std::string stale = Dir() + "/." + kId + ".cmd.tmp.AAAAAA";
  const std::string busy = Dir() + "/." + kId2 + ".cmd.tmp.BBBBBB";
  Write(stale, "half");
  Write(busy, "being written");
  Write(Dir() + "/.hidden", "");
  UniqueFd writer(open(busy.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(flock(writer.get(), LOCK_EX | LOCK_NB), 0);
  store_.RemoveStaleTemporaries();
  EXPECT_EQ(FilesIn(Dir()),
            (std::set<std::string>{"." + std::string(kId2) + ".cmd.tmp.BBBBBB",
                                   ".hidden"}));
}

TEST_F(CommandStoreTest, ReadRefusesHugeFiles) {
  ASSERT_TRUE(MakeDirs(Dir(), 0700).ok());
  Write(PathOf(kId), "");
  ASSERT_EQ(truncate(PathOf(kId).c_str(), CommandStore::kMaxRecordBytes + 1),
            0);
  Result<CommandStore::Record> r = store_.Lock({kId, PathOf(kId)});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Read().status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace porthole::agent
