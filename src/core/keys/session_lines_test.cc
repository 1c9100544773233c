#include "core/keys/session_lines.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/base/file.h"
#include "core/base/test_util.h"
#include "core/keys/test_keys.h"

namespace porthole::keys {
namespace {

constexpr char kTime[] = "2025-07-30 17:10:39.123456789 +01:00";

struct CommentCase {
  const char* comment;
  bool session;
};

class SessionCommentTest : public ::testing::TestWithParam<CommentCase> {};

TEST_P(SessionCommentTest, Classifies) {
  EXPECT_EQ(IsSessionComment(GetParam().comment), GetParam().session)
      << GetParam().comment;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SessionCommentTest,
    ::testing::Values(
        CommentCase{"added by rac on 2025-07-30 17:10:39 +01:00", true},
        CommentCase{"alice added by rac on 2025-07-30 17:10:39.123 -05:30",
                    true},
        CommentCase{"added by porthole-agent on 2025-07-30 17:10:39.123456 "
                    "+00:00",
                    true},
        CommentCase{"x added by rac on 2025-07-30 17:10:39.123456789 +01:00",
                    true},
        // A user's own comment that only mentions the marker (RAC bug 21).
        CommentCase{"my key, not added by rac", false},
        CommentCase{"added by rac on monday", false},
        CommentCase{"added by rac on 2025-07-30 17:10:39 +01:00 and more",
                    false},
        CommentCase{"xadded by rac on 2025-07-30 17:10:39 +01:00", false},
        CommentCase{"added by rac on 2025-07-30 17:10:39.12 +01:00", false},
        CommentCase{"added by rac on 2025-07-30 17:10:39 +0100", false},
        CommentCase{"added by rac on 2025-07-30T17:10:39 +01:00", false},
        CommentCase{"", false}));

class SessionLinesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = MakeTestKey(dir_.path(), "alice", "ed25519", "alice@laptop");
    bob_ = MakeTestKey(dir_.path(), "bob", "ecdsa", "bob");
    path_ = dir_.Join("authorized_keys");
  }
  SessionKey Key(const std::string& line) {
    std::string comment;
    auto k = ParsePublicKeyLine(line, &comment);
    EXPECT_TRUE(k.ok());
    return {*k, comment};
  }
  std::string Read() { return ReadFile(path_, 1 << 20).value(); }

  TempDir dir_;
  std::string alice_, bob_, path_;
};

TEST_F(SessionLinesTest, AddsMarkedLinesAndKeepsTheRestByteForByte) {
  const std::string own =
      "# the user's file\r\nno-pty " + bob_ + "\n" + bob_ + " not added by rac\n";
  ASSERT_TRUE(AtomicReplace(path_, own, ReplaceOptions::NewMode(0640)).ok());
  ASSERT_TRUE(ReplaceSessionLines(path_, {Key(alice_)}, kTime).ok());
  EXPECT_EQ(Read(), own + alice_ + " added by porthole-agent on " + kTime +
                        "\n");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);  // the file keeps its mode

  size_t removed = 0;
  ASSERT_TRUE(ReplaceSessionLines(path_, {}, kTime, &removed).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(Read(), own);
}

TEST_F(SessionLinesTest, RemovesRacLinesToo) {
  const std::string rac = alice_ + " added by rac on " + kTime + "\n";
  ASSERT_TRUE(AtomicReplace(path_, bob_ + "\n" + rac).ok());
  size_t removed = 0;
  ASSERT_TRUE(ReplaceSessionLines(path_, {}, kTime, &removed).ok());
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(Read(), bob_ + "\n");
}

TEST_F(SessionLinesTest, ReplacesTheWholeSessionSet) {
  ASSERT_TRUE(ReplaceSessionLines(path_, {Key(alice_), Key(bob_)}, kTime).ok());
  ASSERT_TRUE(ReplaceSessionLines(path_, {Key(bob_)}, kTime).ok());
  auto file = AuthorizedKeysFile::Parse(Read());
  ASSERT_EQ(file.KeyCount(), 1u);
  EXPECT_EQ(file.lines()[0].key->key, Key(bob_).key);
  EXPECT_EQ(file.lines()[0].key->comment,
            std::string("bob added by porthole-agent on ") + kTime);
}

TEST_F(SessionLinesTest, NewFileIsPrivateAndNothingToRemoveLeavesNoFile) {
  ASSERT_TRUE(ReplaceSessionLines(path_, {}, kTime).ok());
  EXPECT_FALSE(PathExists(path_));
  ASSERT_TRUE(ReplaceSessionLines(path_, {Key(alice_)}, kTime).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(SessionLinesTest, ALineWithOptionsIsNeverASessionLine) {
  // Somebody's restricted key whose comment happens to look like ours.
  const std::string line =
      "restrict " + alice_ + " added by rac on " + kTime + "\n";
  ASSERT_TRUE(AtomicReplace(path_, line).ok());
  ASSERT_TRUE(ReplaceSessionLines(path_, {}, kTime).ok());
  EXPECT_EQ(Read(), line);
}

TEST_F(SessionLinesTest, ControlCharactersInACommentAreNeutralised) {
  SessionKey k = Key(alice_);
  k.comment = "evil\nssh-ed25519 AAAA";
  std::string line = FormatSessionLine(k, kTime);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("evil?ssh-ed25519"), std::string::npos);
}

TEST_F(SessionLinesTest, AFileThatCannotBeReadIsAnErrorNamingIt) {
  ASSERT_EQ(mkdir(path_.c_str(), 0700), 0);  // a directory, not a file
  Status s = ReplaceSessionLines(path_, {Key(alice_)}, kTime);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path_), std::string::npos) << s.message();
}

}  // namespace
}  // namespace porthole::keys
