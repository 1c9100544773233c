#include "core/config/url.h"

#include <gtest/gtest.h>

namespace porthole::config {
namespace {

// RFC 3986 section 5.4: every normal and abnormal example.
TEST(UrlTest, ResolvesRfc3986Examples) {
  auto base = Url::Parse("http://a/b/c/d;p?q");
  ASSERT_TRUE(base.ok()) << base.status().message();
  const std::pair<const char*, const char*> cases[] = {
      // 5.4.1 normal
      {"g:h", "g:h"},
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"},
      {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"},
      {"g;x?y#s", "http://a/b/c/g;x?y#s"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
      // 5.4.2 abnormal
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"},
      {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"},
      {"http:g", "http:g"},
  };
  for (const auto& [ref, want] : cases) {
    SCOPED_TRACE(ref);
    EXPECT_EQ(base->Resolve(ref).ToString(), want);
  }
}

// The joins RAC makes (PROTOCOL.md section 3.2), with and without the
// trailing slash that decides the result.
TEST(UrlTest, ResolvesRacEndpoints) {
  const struct {
    const char* base;
    const char* ref;
    const char* want;
  } cases[] = {
      {"https://dgw.torizon.io/ras/", "sessions",
       "https://dgw.torizon.io/ras/sessions"},
      {"https://dgw.torizon.io/ras/", "public-keys",
       "https://dgw.torizon.io/ras/public-keys"},
      {"https://dgw.torizon.io/ras/",
       "commands/urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/"
       "result",
       "https://dgw.torizon.io/ras/commands/"
       "urn:tdx-ota:command:0b61a0c4-3f5e-4c1e-9a8e-5a0d0e7c2f11/result"},
      {"https://dgw.torizon.io/director/", "root.json",
       "https://dgw.torizon.io/director/root.json"},
      {"https://dgw.torizon.io/director/", "4.root.json",
       "https://dgw.torizon.io/director/4.root.json"},
      {"https://dgw.torizon.io/director/", "remote-sessions.json",
       "https://dgw.torizon.io/director/remote-sessions.json"},
      // Without the slash the last segment is replaced, as RAC does.
      {"https://dgw.torizon.io/ras", "sessions",
       "https://dgw.torizon.io/sessions"},
      {"http://10.0.0.5:8080/api/v1/ras", "commands",
       "http://10.0.0.5:8080/api/v1/commands"},
      {"https://dgw.torizon.io", "sessions", "https://dgw.torizon.io/sessions"},
      // A query or fragment of the base never reaches an endpoint.
      {"https://h/ras/?token=1#x", "sessions", "https://h/ras/sessions"},
      {"https://[::1]:8443/ras/", "sessions",
       "https://[::1]:8443/ras/sessions"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.base) + " + " + c.ref);
    auto base = Url::Parse(c.base);
    ASSERT_TRUE(base.ok()) << base.status().message();
    EXPECT_EQ(base->Resolve(c.ref).ToString(), c.want);
  }
}

TEST(UrlTest, ParseNormalisesCaseAndDotSegmentsOnly) {
  const std::pair<const char*, const char*> cases[] = {
      {"HTTPS://DGW.Torizon.IO/Ras/", "https://dgw.torizon.io/Ras/"},
      {"https://h/a/../ras/./", "https://h/ras/"},
      {"https://h", "https://h"},
      {"https://h:8443/x?q=1#f", "https://h:8443/x?q=1#f"},
      {"https://h/%41b", "https://h/%41b"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto u = Url::Parse(in);
    ASSERT_TRUE(u.ok()) << u.status().message();
    EXPECT_EQ(u->ToString(), want);
  }
  auto u = ParseHttpUrl("https://[2001:db8::1]:8443/ras/");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host(), "[2001:db8::1]");
  EXPECT_EQ(u->port(), "8443");
  EXPECT_EQ(u->path(), "/ras/");
}

TEST(UrlTest, ParseHttpUrlRejects) {
  const std::pair<const char*, const char*> cases[] = {
      {"dgw.torizon.io/ras/",
       "'dgw.torizon.io/ras/' is not an absolute URL (no scheme)"},
      {"ftp://h/ras/",
       "'ftp://h/ras/': the scheme must be https or http, not 'ftp'"},
      {"mailto:a@b",
       "'mailto:a@b': the scheme must be https or http, not "
       "'mailto'"},
      {"https:///ras/", "'https:///ras/' has no host"},
      {"https:ras/", "'https:ras/' has no host"},
      {"https://h/a b", "'https://h/a b': a URL cannot contain ' '"},
      {"https://h/a\nb", "'https://h/a\\x0ab': a URL cannot contain \\x0a"},
      {"https://h/\xc3\xa9",
       "'https://h/\\xc3\\xa9': a URL cannot contain "
       "\\xc3"},
      {"https://h/%zz",
       "'https://h/%zz': '%' must be followed by two hex "
       "digits"},
      {"https://h/%4",
       "'https://h/%4': '%' must be followed by two hex "
       "digits"},
      {"https://h:0/", "'https://h:0/': the port must be 1 to 65535, not '0'"},
      {"https://h:70000/",
       "'https://h:70000/': the port must be 1 to 65535, not '70000'"},
      {"https://h:22a/", "'https://h:22a/': invalid port '22a'"},
      {"https://user:secret@h/",
       "'https://user:secret@h/': user information (name@, name:password@) "
       "does not belong in a URL here"},
      {"https://[zz::1]/",
       "'https://[zz::1]/': 'zz::1' is not an IPv6 "
       "address"},
      {"https://h/[x]",
       "'https://h/[x]': '[' and ']' are only allowed around an IPv6 host"},
  };
  for (const auto& [in, message] : cases) {
    SCOPED_TRACE(in);
    auto u = ParseHttpUrl(in);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(u.status().message(), message);
  }
}

}  // namespace
}  // namespace porthole::config
