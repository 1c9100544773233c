#include "core/keys/authorized_keys_file.h"

#include <gtest/gtest.h>

#include "core/base/test_util.h"
#include "core/keys/test_keys.h"

namespace porthole::keys {
namespace {

class AuthorizedKeysFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = MakeTestKey(dir_.path(), "a", "ed25519", "alice@laptop");
    b_ = MakeTestKey(dir_.path(), "b", "ecdsa", "bob@desk");
  }
  TempDir dir_;
  std::string a_, b_;
};

TEST_F(AuthorizedKeysFileTest, UneditedFileIsByteIdentical) {
  const std::string inputs[] = {
      "",
      "\n",
      a_,  // no final newline
      a_ + "\n",
      "# comment\n\n   \n" + a_ + "   \n" + b_ + "\r\n",
      "garbage line that does not parse\n" + a_ + "\n\tindented # not comment",
      "restrict,command=\"echo 'x y'\" " + a_ + "\n",
      "\n\n\n",
  };
  for (const auto& in : inputs) {
    EXPECT_EQ(AuthorizedKeysFile::Parse(in).Serialize(), in);
  }
}

TEST_F(AuthorizedKeysFileTest, ClassifiesLines) {
  auto f = AuthorizedKeysFile::Parse("# c\n\n" + a_ + "\nnot a key\n");
  ASSERT_EQ(f.lines().size(), 4u);
  using K = AuthorizedKeysLine::Kind;
  EXPECT_EQ(f.lines()[0].kind, K::kComment);
  EXPECT_EQ(f.lines()[1].kind, K::kBlank);
  EXPECT_EQ(f.lines()[2].kind, K::kKey);
  EXPECT_EQ(f.lines()[2].key->comment, "alice@laptop");
  EXPECT_EQ(f.lines()[3].kind, K::kInvalid);
  EXPECT_FALSE(f.lines()[3].error.empty());
  EXPECT_EQ(f.KeyCount(), 1u);
}

TEST_F(AuthorizedKeysFileTest, UpsertReplacesInPlaceByKeyMaterial) {
  std::string in = "# top\n" + a_ + "\n" + b_ + "\n# end\n";
  auto f = AuthorizedKeysFile::Parse(in);
  auto renamed = *ParseAuthorizedKey("no-pty " + a_.substr(0, a_.rfind(' ')) +
                                     " another-comment");
  EXPECT_TRUE(f.Upsert(renamed));
  EXPECT_EQ(f.Serialize(),
            "# top\n" + FormatAuthorizedKey(renamed) + "\n" + b_ + "\n# end\n");
  EXPECT_EQ(f.KeyCount(), 2u);
}

TEST_F(AuthorizedKeysFileTest, UpsertDropsLaterDuplicates) {
  auto f = AuthorizedKeysFile::Parse(a_ + "\n" + b_ + "\n" + a_ + "\n");
  EXPECT_TRUE(f.Upsert(*ParseAuthorizedKey(a_)));
  EXPECT_EQ(f.Serialize(), a_ + "\n" + b_ + "\n");
}

TEST_F(AuthorizedKeysFileTest, AppendAfterMissingFinalNewline) {
  auto f = AuthorizedKeysFile::Parse("# no newline");
  EXPECT_FALSE(f.Upsert(*ParseAuthorizedKey(a_)));
  EXPECT_EQ(f.Serialize(), "# no newline\n" + a_ + "\n");
}

TEST_F(AuthorizedKeysFileTest, RemoveByMaterialKeepsEverythingElse) {
  std::string in = "# keep\n" + a_ + "\nbroken line\n" + b_ +
                   "  \ncommand=\"x\" " + a_ + "\n";
  auto f = AuthorizedKeysFile::Parse(in);
  EXPECT_EQ(f.Remove(ParseAuthorizedKey(a_)->key), 2u);
  EXPECT_EQ(f.Serialize(), "# keep\nbroken line\n" + b_ + "  \n");
  EXPECT_EQ(f.Remove(ParseAuthorizedKey(a_)->key), 0u);
}

}  // namespace
}  // namespace porthole::keys
