#include "cli/relay_key_store.h"

#include <sys/stat.h>
#include <utime.h>

#include <gtest/gtest.h>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

SystemTime T(const char* t) { return tuf::ParseRfc3339(t).value(); }

mode_t Mode(const std::string& p) {
  struct stat st;
  EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

TEST(RelayKeyStoreTest, CreateFindRemove) {
  TempDir tmp;
  RelayKeyStore store(tmp.Join("cache/relay"));
  auto e = store.Create("s-1", T("2026-12-04T11:00:00Z"));
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(Mode(tmp.Join("cache/relay")), 0700u);
  EXPECT_EQ(Mode(e->dir), 0700u);
  EXPECT_EQ(Mode(e->key_file), 0600u);
  EXPECT_EQ(e->key_file, tmp.Join("cache/relay/s-1/id_ed25519"));
  EXPECT_TRUE(e->public_line.starts_with("ssh-ed25519 "));
  // OpenSSH reads the key and derives the same public key.
  auto r = RunProcess({"ssh-keygen", "-y", "-f", e->key_file});
  ASSERT_TRUE(r.ok() && r->success()) << (r.ok() ? r->err : "");
  EXPECT_EQ(r->out.substr(0, r->out.rfind(' ')),
            e->public_line.substr(0, e->public_line.rfind(' ')));
  auto found = store.Find("s-1");
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->key, e->key);
  EXPECT_FALSE(*store.Find("s-2"));
  EXPECT_FALSE(*store.Find("../s-1"));
  ASSERT_TRUE(store.Remove("s-1").ok());
  EXPECT_FALSE(PathExists(e->dir));
}

TEST(RelayKeyStoreTest, SweepRemovesExpiredDamagedAndStalePending) {
  TempDir tmp;
  RelayKeyStore store(tmp.Join("relay"));
  ASSERT_TRUE(store.Create("old", T("2026-12-04T09:00:00Z")).ok());
  ASSERT_TRUE(store.Create("live", T("2026-12-04T11:00:00Z")).ok());
  ASSERT_TRUE(store.Create("broken", T("2026-12-04T11:00:00Z")).ok());
  ASSERT_TRUE(
      AtomicReplace(tmp.Join("relay/broken/expires"), "tomorrow\n").ok());
  auto fresh = store.CreatePending();
  ASSERT_TRUE(fresh.ok());
  auto stale = store.CreatePending();
  ASSERT_TRUE(stale.ok());
  SystemTime now = T("2026-12-04T10:00:00Z");
  // The stale one was made two hours before "now", the fresh one just now.
  struct utimbuf old_time;
  old_time.actime = old_time.modtime =
      std::chrono::system_clock::to_time_t(now - std::chrono::hours(2));
  ASSERT_EQ(utime(stale->dir.c_str(), &old_time), 0);
  struct utimbuf new_time;
  new_time.actime = new_time.modtime =
      std::chrono::system_clock::to_time_t(now);
  ASSERT_EQ(utime(fresh->dir.c_str(), &new_time), 0);
  EXPECT_EQ(store.Sweep(now), 3);
  EXPECT_FALSE(PathExists(tmp.Join("relay/old")));
  EXPECT_FALSE(PathExists(tmp.Join("relay/broken")));
  EXPECT_FALSE(PathExists(stale->dir));
  EXPECT_TRUE(PathExists(tmp.Join("relay/live")));
  EXPECT_TRUE(PathExists(fresh->dir));
  EXPECT_EQ(store.Sweep(now), 0);
}

TEST(RelayKeyStoreTest, UnsafeSessionIdsAreRefused) {
  TempDir tmp;
  RelayKeyStore store(tmp.Join("relay"));
  for (std::string id :
       std::vector<std::string>{"", ".", "..", "../x", "a/b", ".hidden", "a b",
                                std::string(129, 'a')}) {
    EXPECT_FALSE(SessionIdIsSafe(id)) << id;
    EXPECT_EQ(store.Create(id, T("2030-01-01T00:00:00Z")).status().code(),
              StatusCode::kInvalidArgument)
        << id;
  }
  EXPECT_TRUE(SessionIdIsSafe("urn:tdx-ota:session:0b61-aa_1.2"));
  // Nothing was left behind by the refusals.
  auto r = RunProcess({"ls", "-A", tmp.Join("relay")});
  EXPECT_EQ(r->out, "");
}

TEST(RelayKeyStoreTest, ForeignDirectoryIsRefused) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root (chown)";
  TempDir tmp;
  ASSERT_TRUE(MakeDirs(tmp.Join("relay"), 0700).ok());
  ASSERT_EQ(chown(tmp.Join("relay").c_str(), 4321, 4321), 0);
  RelayKeyStore store(tmp.Join("relay"));
  auto r = store.CreatePending();
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace porthole::cli
