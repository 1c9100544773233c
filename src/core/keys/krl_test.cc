#include "core/keys/krl.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/keys/authorized_key.h"
#include "core/keys/test_keys.h"

namespace porthole::keys {
namespace {

TEST(KrlTest, RevokesExactlyTheListedKeys) {
  TempDir d;
  auto a = ParseAuthorizedKey(MakeTestKey(d.path(), "a"));
  auto b = ParseAuthorizedKey(MakeTestKey(d.path(), "b", "rsa"));
  auto c = ParseAuthorizedKey(MakeTestKey(d.path(), "c", "ecdsa"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  const std::string krl = d.Join("revoked.krl");
  ASSERT_TRUE(WriteKrl(krl, {a->key, b->key}).ok());
  EXPECT_TRUE(*KrlRevokes(krl, a->key));
  EXPECT_TRUE(*KrlRevokes(krl, b->key));
  EXPECT_FALSE(*KrlRevokes(krl, c->key));
  struct stat st;
  ASSERT_EQ(stat(krl.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  // Rewriting with fewer keys un-revokes the others.
  ASSERT_TRUE(WriteKrl(krl, {b->key}).ok());
  EXPECT_FALSE(*KrlRevokes(krl, a->key));
  EXPECT_TRUE(*KrlRevokes(krl, b->key));
}

TEST(KrlTest, EmptyKrlRevokesNothingButExists) {
  TempDir d;
  auto a = ParseAuthorizedKey(MakeTestKey(d.path(), "a"));
  const std::string krl = d.Join("revoked.krl");
  ASSERT_TRUE(WriteKrl(krl, {}).ok());
  EXPECT_TRUE(PathExists(krl));
  EXPECT_FALSE(*KrlRevokes(krl, a->key));
}

TEST(KrlTest, FailureKeepsOldKrl) {
  TempDir d;
  auto a = ParseAuthorizedKey(MakeTestKey(d.path(), "a"));
  const std::string krl = d.Join("revoked.krl");
  ASSERT_TRUE(WriteKrl(krl, {a->key}).ok());
  auto before = ReadFile(krl, 1 << 20);
  Status s = WriteKrl(krl, {}, "/nonexistent/ssh-keygen");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(*ReadFile(krl, 1 << 20), *before);
}

}  // namespace
}  // namespace porthole::keys
