#include "core/httpd/target.h"

#include <gtest/gtest.h>

namespace porthole::httpd {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

struct Good {
  const char* raw;
  const char* path;
  Params query;
};

TEST(TargetTest, Accepted) {
  const Good cases[] = {
      {"/", "/", {}},
      {"/ras/sessions", "/ras/sessions", {}},
      {"/ras/sessions?", "/ras/sessions", {}},
      {"/ras/sessions?wait=25&seen=3f1c0b8e2a474b3e",
       "/ras/sessions",
       {{"wait", "25"}, {"seen", "3f1c0b8e2a474b3e"}}},
      // RAC sends the command URN's colons as they are.
      {"/ras/commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/"
       "result",
       "/ras/commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/"
       "result",
       {}},
      {"/a%20b/%7Ec%3a", "/a b/~c:", {}},
      {"/caf%C3%A9", "/caf\xC3\xA9", {}},
      {"/x?flag", "/x", {{"flag", ""}}},
      {"/x?a=&b=1", "/x", {{"a", ""}, {"b", "1"}}},
      {"/x?a=1&a=2", "/x", {{"a", "1"}, {"a", "2"}}},
      {"/x?q=a+b%2Bc%26d=e", "/x", {{"q", "a b+c&d=e"}}},
      {"/x?next=/y?z", "/x", {{"next", "/y?z"}}},
      {"/x?k=v=w", "/x", {{"k", "v=w"}}},
      {"/.well-known/x/..a/.b", "/.well-known/x/..a/.b", {}},
      {"//double", "//double", {}},
      {"/x/", "/x/", {}},
  };
  for (const Good& c : cases) {
    auto t = ParseTarget(c.raw);
    ASSERT_TRUE(t.ok()) << c.raw << ": " << t.status().message();
    EXPECT_EQ(t->path, c.path) << c.raw;
    EXPECT_EQ(t->query, c.query) << c.raw;
  }
}

TEST(TargetTest, Refused) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "request target must start with '/'"},
      {"*", "request target must start with '/'"},
      {"http://example.com/", "request target must start with '/'"},
      {"example.com:443", "request target must start with '/'"},
      {"/a b", "invalid character in request target"},
      {"/a#frag", "invalid character in request target"},
      {"/a\"", "invalid character in request target"},
      {"/a<b>", "invalid character in request target"},
      {"/a\\b", "invalid character in request target"},
      {"/a{b}", "invalid character in request target"},
      {"/a|b", "invalid character in request target"},
      {"/a^b", "invalid character in request target"},
      {"/a`b", "invalid character in request target"},
      {"/caf\xC3\xA9", "invalid character in request target"},
      {std::string("/a\0b", 4), "invalid character in request target"},
      {"/a?b c", "invalid character in request target"},
      {"/a?b#c", "invalid character in request target"},
      {"/a/b?c=\x7f", "invalid character in request target"},
      {"/%", "malformed percent-escape"},
      {"/%4", "malformed percent-escape"},
      {"/%4g", "malformed percent-escape"},
      {"/%%41", "malformed percent-escape"},
      {"/x?a=%zz", "malformed percent-escape"},
      {"/x?a%", "malformed percent-escape"},
      {"/%00", "invalid byte in request target"},
      {"/%0a", "invalid byte in request target"},
      {"/%7F", "invalid byte in request target"},
      {"/%C3", "invalid byte in request target"},
      {"/%C0%AF", "invalid byte in request target"},
      {"/x?a=%00", "invalid byte in request target"},
      {"/a%2fb", "encoded '/' in path"},
      {"/a%2Fb", "encoded '/' in path"},
      {"/.", "dot segment in path"},
      {"/..", "dot segment in path"},
      {"/a/../b", "dot segment in path"},
      {"/a/./b", "dot segment in path"},
      {"/a/%2e%2e/b", "dot segment in path"},
      {"/a/.%2E", "dot segment in path"},
      {"/x?&a=1", "empty query parameter"},
      {"/x?a=1&", "empty query parameter"},
      {"/x?a=1&&b=2", "empty query parameter"},
      {"/x?=1", "empty query parameter"},
  };
  for (const auto& [raw, why] : cases) {
    auto t = ParseTarget(raw);
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument) << raw;
    EXPECT_EQ(t.status().message(), why) << raw;
  }
  // '/' is a plain query character: "/a?b/c" has one parameter "b/c".
  auto t = ParseTarget("/a?b/c");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->query, (Params{{"b/c", ""}}));
}

TEST(TargetTest, ParameterCount) {
  std::string raw = "/x?";
  for (int i = 0; i < 64; ++i) raw += (i ? "&p" : "p") + std::to_string(i);
  EXPECT_TRUE(ParseTarget(raw).ok());
  EXPECT_EQ(ParseTarget(raw + "&one_more").status().message(),
            "too many query parameters");
}

}  // namespace
}  // namespace porthole::httpd
