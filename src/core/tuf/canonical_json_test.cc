#include "core/tuf/canonical_json.h"

#include <gtest/gtest.h>

#include <string>

#include "core/tuf/json.h"

namespace porthole::tuf {
namespace {

struct CanonCase {
  const char* name;
  std::string json;       // input text
  std::string canonical;  // expected bytes
};

class CanonicalJsonTest : public ::testing::TestWithParam<CanonCase> {};

TEST_P(CanonicalJsonTest, Bytes) {
  ErrorOr<Json> json = ParseJson(GetParam().json);
  ASSERT_TRUE(json.ok()) << json.error().message();
  ErrorOr<std::string> c = CanonicalJson(*json);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(*c, GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CanonicalJsonTest,
    ::testing::Values(
        CanonCase{"Literals", " [ null , true , false ] ", "[null,true,false]"},
        CanonCase{"Integers",
                  "[0, -5, 42, 18446744073709551615, "
                  "-9223372036854775808]",
                  "[0,-5,42,18446744073709551615,-9223372036854775808]"},
        CanonCase{"NegativeZeroIsZero", "-0", "0"},
        CanonCase{"EmptyContainers", "{ \"a\" : [ ] , \"b\" : { } }",
                  "{\"a\":[],\"b\":{}}"},
        CanonCase{"SortsKeys", "{\"b\":1,\"a\":2,\"c\":3}",
                  "{\"a\":2,\"b\":1,\"c\":3}"},
        // The encoded key "a" ends in '"' (0x22), which sorts after ' '
        // (0x20) and '!' (0x21) but before every letter.
        CanonCase{"PrefixRuleSpace", "{\"a\":1,\"a b\":2}",
                  "{\"a b\":2,\"a\":1}"},
        CanonCase{"PrefixRuleBang", "{\"a\":1,\"a!\":2}", "{\"a!\":2,\"a\":1}"},
        CanonCase{"PrefixRuleLetter", "{\"ab\":1,\"a\":2}",
                  "{\"a\":2,\"ab\":1}"},
        // "a\n" encodes as a, backslash, n: 0x5c sorts after '"'.
        CanonCase{"SortsByEscapedKey", "{\"a\\n\":1,\"a\":2}",
                  "{\"a\":2,\"a\\n\":1}"},
        CanonCase{"SortsBytesNotCodePoints", "{\"\\u00e9\":1,\"z\":2}",
                  "{\"z\":2,\"\xc3\xa9\":1}"},
        CanonCase{"EscapesQuoteBackslashLf", "\"a\\\"b\\\\c\\nd\"",
                  "\"a\\\"b\\\\c\\nd\""},
        CanonCase{"RawTabCrAndControls", "\"\\t\\r\\u0001\\u001f\\u007f\"",
                  "\"\t\r\x01\x1f\x7f\""},
        CanonCase{"NulIsRaw", "\"a\\u0000b\"", std::string("\"a\0b\"", 5)},
        CanonCase{"SlashNotEscaped", "\"a\\/b/c\"", "\"a/b/c\""},
        CanonCase{"NoUnicodeEscapes", "\"\\u00e9\\ud83d\\ude00\"",
                  "\"\xc3\xa9\xf0\x9f\x98\x80\""},
        CanonCase{"NfcCombiningAccent", "\"e\\u0301\"", "\"\xc3\xa9\""},
        CanonCase{"NfcAngstromSign", "\"\\u212b\"", "\"\xc3\x85\""},
        CanonCase{"NfcHangulJamo", "\"\\u1100\\u1161\"", "\"\xea\xb0\x80\""},
        CanonCase{"NfcInKeys", "{\"e\\u0301\":1}", "{\"\xc3\xa9\":1}"},
        CanonCase{"PemNewlines",
                  "{\"public\":\"-----BEGIN PUBLIC KEY-----\\nMII\\n\"}",
                  "{\"public\":\"-----BEGIN PUBLIC KEY-----\\nMII\\n\"}"},
        CanonCase{"Nested",
                  "{\"z\":[{\"b\":[1,{\"d\":null,\"c\":true}],\"a\":\"x\"}],"
                  " \"y\":{\"k\":{\"j\":{}}}}",
                  "{\"y\":{\"k\":{\"j\":{}}},\"z\":[{\"a\":\"x\",\"b\":[1,{"
                  "\"c\":true,\"d\":null}]}]}"}),
    [](const auto& p) { return std::string(p.param.name); });

struct CanonErrorCase {
  const char* name;
  std::string json;
  std::string message;
};

class CanonicalJsonErrorTest : public ::testing::TestWithParam<CanonErrorCase> {
};

TEST_P(CanonicalJsonErrorTest, Fails) {
  ErrorOr<Json> json = ParseJson(GetParam().json);
  ASSERT_TRUE(json.ok()) << json.error().message();
  ErrorOr<std::string> c = CanonicalJson(*json);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotCanonical);
  EXPECT_EQ(c.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CanonicalJsonErrorTest,
    ::testing::Values(
        CanonErrorCase{"Fraction", "1.5", "/: non-integer number"},
        CanonErrorCase{"IntegralFloat", "1.0", "/: non-integer number"},
        CanonErrorCase{"Exponent", "[1e3]", "/0: non-integer number"},
        CanonErrorCase{"BeyondUint64", "18446744073709551616",
                       "/: non-integer number"},
        CanonErrorCase{"NestedFloat", "{\"a\":[1,{\"b/c\":0.5}]}",
                       "/a/1/b~1c: non-integer number"},
        CanonErrorCase{"KeysEqualAfterNfc", "{\"\\u00e9\":1,\"e\\u0301\":2}",
                       "/: two member names are equal after NFC: "
                       "\"??\""}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(CanonicalJsonTest, InvalidUtf8FromCodeFails) {
  // ParseJson never yields such strings, but a Json built in code can.
  Json j = Json::object();
  j["k"] = std::string("\xff");
  ErrorOr<std::string> c = CanonicalJson(j);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message(), "/k: string is not valid UTF-8");
}

TEST(CanonicalJsonTest, DeepNestingFails) {
  Json j = 1;
  for (int i = 0; i < kMaxJsonDepth + 2; ++i) j = Json::array({j});
  EXPECT_FALSE(CanonicalJson(j).ok());
}

TEST(NormalizeNfcTest, Table) {
  struct Case {
    std::string in, out;
  };
  const Case kCases[] = {
      {"", ""},
      {"plain ascii", "plain ascii"},
      {"\xc3\xa9", "\xc3\xa9"},                       // already NFC
      {"e\xcc\x81", "\xc3\xa9"},                      // e + COMBINING ACUTE
      {"\xe2\x84\xab", "\xc3\x85"},                   // ANGSTROM SIGN -> A-ring
      {"\xef\xac\x81", "\xef\xac\x81"},               // fi ligature: NFKC only
      {"a\xcc\x88\xcc\xa3", "\xe1\xba\xa1\xcc\x88"},  // reordered marks
  };
  for (const Case& c : kCases) {
    ErrorOr<std::string> n = NormalizeNfc(c.in);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, c.out) << c.in;
  }
}

TEST(IsValidUtf8Test, Table) {
  struct Case {
    std::string bytes;
    bool ok;
  };
  const Case kCases[] = {
      {"", true},
      {"abc", true},
      {"\xc3\xa9", true},
      {"\xf0\x9f\x98\x80", true},
      {"\xf4\x8f\xbf\xbf", true},   // U+10FFFF
      {"\xc3", false},              // truncated
      {"\xa9", false},              // lone continuation
      {"\xc0\xaf", false},          // overlong '/'
      {"\xe0\x80\xaf", false},      // overlong
      {"\xed\xa0\x80", false},      // surrogate U+D800
      {"\xf4\x90\x80\x80", false},  // U+110000
      {"\xff", false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(IsValidUtf8(c.bytes), c.ok) << testing::PrintToString(c.bytes);
  }
}

TEST(ParseJsonTest, Strictness) {
  struct Case {
    std::string text;
    bool ok;
  };
  const Case kCases[] = {
      {"{\"a\":1}", true},
      {" {\"a\":1} \n", true},
      {"{\"a\":1,\"a\":2}", false},          // duplicate member
      {"{\"a\":{\"b\":1,\"b\":1}}", false},  // nested duplicate
      {"{\"a\":1,\"A\":2}", true},           // case differs: distinct
      {"{\"a\":1} x", false},                // trailing garbage
      {"", false},
      {"\"\\ud800\"", false},  // unpaired surrogate
      {"\"\xff\"", false},     // invalid UTF-8
      {"[1,]", false},
      {"{'a':1}", false},
      {"// c\n1", false},  // no comments
      {"An error occurred\nio.circe.ParsingFailure", false},
  };
  for (const Case& c : kCases) {
    ErrorOr<Json> j = ParseJson(c.text);
    EXPECT_EQ(j.ok(), c.ok) << c.text;
    if (!j.ok()) {
      EXPECT_EQ(j.error().code(), ErrorCode::kNotJson);
    }
  }
}

TEST(ParseJsonTest, DuplicateMessageAndDepth) {
  ErrorOr<Json> dup = ParseJson("{\"version\":1,\"version\":2}");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().message(), "duplicate member 'version'");

  std::string deep(kMaxJsonDepth, '[');
  deep += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJson(deep).ok());
  std::string deeper(kMaxJsonDepth + 1, '[');
  deeper += std::string(kMaxJsonDepth + 1, ']');
  ErrorOr<Json> too_deep = ParseJson(deeper);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().message(), "nesting deeper than 64");
}

TEST(ExcerptTest, FirstPrintableLine) {
  EXPECT_EQ(Excerpt("An error occurred\nio.circe"), "An error occurred");
  EXPECT_EQ(Excerpt("a\x01\xff"
                    "b"),
            "a??b");
  EXPECT_EQ(Excerpt(std::string(100, 'x')).size(), 80u);
}

}  // namespace
}  // namespace porthole::tuf
