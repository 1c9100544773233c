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

TEST(TomlTest, TypesLinesAndIntArrays) {
  auto doc = TomlDocument::Parse(
      "a = \"x\"\nb = [1, 2]\nc = [1, \"2\"]\nd = { e = 1 }\nf = 1.5\n"
      "g = 1979-05-27\n\n[t]\nh = 1\n",
      "f.toml");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  TomlTable root = doc->Root();
  EXPECT_EQ(root.Type("a"), TomlType::kString);
  EXPECT_EQ(root.Type("b"), TomlType::kArray);
  EXPECT_EQ(root.Type("d"), TomlType::kTable);
  EXPECT_EQ(root.Type("f"), TomlType::kFloat);
  EXPECT_EQ(root.Type("g"), TomlType::kDateTime);
  EXPECT_EQ(root.Type("t"), TomlType::kTable);
  EXPECT_EQ(root.Type("nope"), TomlType::kNone);
  EXPECT_EQ(**root.GetIntArray("b"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(root.GetIntArray("c").status().message(),
            "f.toml:3: key 'c': expected an array of integers");
  EXPECT_EQ(root.GetIntArray("a").status().message(),
            "f.toml:1: key 'a': expected an array");
  EXPECT_EQ(root.Line("d"), 4);
  EXPECT_EQ(root.Line("nope"), 0);
  EXPECT_EQ(root.Line(), 0);
  EXPECT_EQ(root.source(), "f.toml");
  auto t = root.GetTable("t");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->Line(), 8);
}

TEST(TomlTest, PrintableText) {
  EXPECT_EQ(PrintableText("a b"), "a b");
  EXPECT_EQ(PrintableText("a\nb\x7f\xc3\xa9"), "a\\x0ab\\x7f\\xc3\\xa9");
  EXPECT_EQ(PrintableText(std::string(201, 'x')), std::string(200, 'x') + "...");
  // toml++ quotes the offending character, which may be a newline.
  auto doc = TomlDocument::Parse("a = t\n", "n.toml");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message().find('\n'), std::string::npos)
      << doc.status().message();
}

}  // namespace
}  // namespace porthole::config
