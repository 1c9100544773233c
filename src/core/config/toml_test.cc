#include "core/config/toml.h"

#include <gtest/gtest.h>

namespace porthole::config {
namespace {

TEST(TomlTest, ReadsTypedValuesAndRejectsUnknownKeys) {
  auto doc = TomlDocument::Parse(
      "a = \"x\"\nb = true\nc = 3\n[t]\nd = [\"p\", \"q\"]\ne = 1\n", "f.toml");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  TomlTable root = doc->Root();
  EXPECT_EQ(**root.GetString("a"), "x");
  EXPECT_EQ(**root.GetBool("b"), true);
  EXPECT_EQ(**root.GetInt("c"), 3);
  EXPECT_FALSE(root.GetString("missing")->has_value());
  auto t = root.GetTable("t");
  ASSERT_TRUE(t.ok() && t->has_value());
  TomlTable table = **t;
  EXPECT_EQ((**table.GetStringArray("d")).size(), 2u);
  Status s = root.CheckNoUnknownKeys();
  EXPECT_EQ(s.message(), "f.toml:6: key 't.e': unknown key");
}

TEST(TomlTest, WrongTypeNamesKeyAndLine) {
  auto doc = TomlDocument::Parse("\n\nport = \"22\"\n", "c.toml");
  ASSERT_TRUE(doc.ok());
  TomlTable root = doc->Root();
  EXPECT_EQ(root.GetInt("port").status().message(),
            "c.toml:3: key 'port': expected an integer");
  EXPECT_EQ(root.GetTable("port").status().message(),
            "c.toml:3: key 'port': expected a table");
}

TEST(TomlTest, SyntaxErrorNamesFileLineColumn) {
  auto doc = TomlDocument::Parse("a = 1\nb = = 2\n", "bad.toml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(doc.status().message().rfind("bad.toml:2:", 0), 0u)
      << doc.status().message();
}

TEST(TomlTest, MissingFile) {
  auto doc = TomlDocument::ParseFile("/nonexistent/x.toml");
  EXPECT_EQ(doc.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(doc.status().message(),
            "/nonexistent/x.toml: No such file or directory");
}

TEST(TomlTest, QuoteRoundTrips) {
  std::string nasty = "a \"b\" \\c\nd\te\x01";
  auto doc = TomlDocument::Parse("k = " + TomlQuote(nasty) + "\n", "q");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_EQ(**doc->Root().GetString("k"), nasty);
}

TEST(TomlTest, KeysInFileOrder) {
  auto doc = TomlDocument::Parse("z = 1\na = 2\nm = 3\n", "o");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->Root().Keys(), (std::vector<std::string>{"z", "a", "m"}));
}

}  // namespace
}  // namespace porthole::config
