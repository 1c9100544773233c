#include "core/keys/catalogue.h"

#include <gtest/gtest.h>

#include "core/base/test_util.h"
#include "core/config/toml.h"
#include "core/keys/test_keys.h"

namespace porthole::keys {
namespace {

using config::TomlQuote;

class CatalogueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_ = MakeTestKey(dir_.path(), "alice", "ed25519", "alice@yubikey");
    shop_ = "restrict,pty,command=\"/usr/share/fleet/fleet-config.sh --x\" " +
            MakeTestKey(dir_.path(), "shop", "rsa", "repair@shop1");
    lost_ = MakeTestKey(dir_.path(), "lost", "ed25519", "bob@lost");
  }
  std::string Toml() const {
    return "[known]\n\"alice@yubikey\" = " + TomlQuote(alice_) +
           "\n\"repair@shop1\" = " + TomlQuote(shop_) +
           "\n[revoked]\n\"bob@lost\" = " + TomlQuote(lost_) + "\n";
  }
  TempDir dir_;
  std::string alice_, shop_, lost_;
};

TEST_F(CatalogueTest, ParsesKnownAndRevoked) {
  auto c = Catalogue::Parse(Toml(), "cat.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->known().size(), 2u);
  ASSERT_EQ(c->revoked().size(), 1u);
  const auto* shop = c->FindKnownId("repair@shop1");
  ASSERT_NE(shop, nullptr);
  EXPECT_TRUE(shop->line.HasOption("restrict"));
  EXPECT_EQ(*shop->line.FindOption("command")->value,
            "/usr/share/fleet/fleet-config.sh --x");
  auto lost = ParseAuthorizedKey(lost_);
  EXPECT_TRUE(c->IsRevoked(lost->key));
  EXPECT_EQ(c->FindRevokedKey(lost->key)->id, "bob@lost");
  EXPECT_EQ(c->FindKnownKey(ParseAuthorizedKey(alice_)->key)->id,
            "alice@yubikey");
  EXPECT_EQ(c->FindKnownId("nobody"), nullptr);
}

TEST_F(CatalogueTest, KeyMaterialNotCommentDecides) {
  auto c = Catalogue::Parse(Toml(), "cat.toml");
  ASSERT_TRUE(c.ok());
  // The revoked key under another comment is still revoked.
  std::string renamed = lost_.substr(0, lost_.rfind(' ')) + " innocent@host";
  EXPECT_TRUE(c->IsRevoked(ParseAuthorizedKey(renamed)->key));
}

TEST_F(CatalogueTest, KnownAndRevokedIsAnError) {
  std::string toml = Toml() + "\"alice-old\" = " + TomlQuote(alice_) + "\n";
  auto c = Catalogue::Parse(toml, "cat.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "cat.toml: known key 'alice@yubikey' is also revoked (as "
            "'alice-old')");
}

TEST_F(CatalogueTest, Errors) {
  struct Case {
    std::string text, error;
  } cases[] = {
      {"[known]\nx = \"ssh-ed25519 !!!\"\n", "c.toml:2: key 'known.x': "},
      {"[known]\nx = 3\n", "c.toml:2: key 'known.x': expected a string"},
      {"[nown]\n", "c.toml:1: key 'nown': unknown key"},
      {"[known]\n\"a b\" = " + TomlQuote(alice_) + "\n",
       "c.toml:2: key 'known.a b': an ID must be one word"},
      {"[known]\na = " + TomlQuote(alice_) + "\nb = " + TomlQuote(alice_) +
           "\n",
       "c.toml: 'b' and 'a' are the same key"},
  };
  for (const auto& c : cases) {
    auto r = Catalogue::Parse(c.text, "c.toml");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message().substr(0, c.error.size()), c.error);
  }
}

TEST_F(CatalogueTest, MergeAndRoundTrip) {
  auto c = Catalogue::Parse(Toml(), "cat.toml");
  ASSERT_TRUE(c.ok());
  auto again = Catalogue::Parse(c->ToToml(), "again");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->known().size(), 2u);
  EXPECT_EQ(again->revoked().size(), 1u);
  EXPECT_EQ(FormatAuthorizedKey(again->FindKnownId("repair@shop1")->line),
            FormatAuthorizedKey(c->FindKnownId("repair@shop1")->line));

  Catalogue merged;
  EXPECT_TRUE(merged.Merge(*c).ok());
  EXPECT_TRUE(merged.Merge(*again).ok());  // same entries: no change
  EXPECT_EQ(merged.known().size(), 2u);

  auto clash = Catalogue::Parse(
      "[known]\n\"alice@yubikey\" = " + TomlQuote(lost_) + "\n", "x");
  ASSERT_TRUE(clash.ok());
  EXPECT_EQ(merged.Merge(*clash).message(),
            "catalogue ID 'alice@yubikey' names two different keys");
  auto revives =
      Catalogue::Parse("[known]\nnew = " + TomlQuote(lost_) + "\n", "y");
  ASSERT_TRUE(revives.ok());
  EXPECT_EQ(merged.Merge(*revives).message(),
            "catalogue: known key 'new' is also revoked (as 'bob@lost')");
  EXPECT_EQ(merged.known().size(), 2u);  // a failed merge changes nothing
}

TEST_F(CatalogueTest, LoadMissing) {
  EXPECT_TRUE(Catalogue::Load("/nonexistent/c.toml", true).ok());
  EXPECT_EQ(Catalogue::Load("/nonexistent/c.toml", false).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace porthole::keys
