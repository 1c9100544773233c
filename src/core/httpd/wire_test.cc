#include "core/httpd/wire.h"

#include <gtest/gtest.h>

namespace porthole::httpd {
namespace {

std::string WithoutDate(std::string s) {
  size_t at = s.find("Date: ");
  if (at == std::string::npos) return s;
  return s.erase(at, s.find("\r\n", at) + 2 - at);
}

TEST(WireTest, Serialize) {
  Response r = Response::Json(404, "{\"code\":\"x\"}");
  r.headers.emplace_back("ETag", "\"3f1c\"");
  EXPECT_EQ(WithoutDate(SerializeResponse(r, 11, false, false)),
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
            "ETag: \"3f1c\"\r\nContent-Length: 12\r\n\r\n{\"code\":\"x\"}");
  // HEAD: the length of the body that would be sent, no body.
  EXPECT_EQ(
      WithoutDate(SerializeResponse(r, 11, true, true)),
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
      "ETag: \"3f1c\"\r\nContent-Length: 12\r\nConnection: close\r\n\r\n");
  Response empty;
  empty.status = 204;
  EXPECT_EQ(WithoutDate(SerializeResponse(empty, 10, false, false)),
            "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  Response odd;
  odd.status = 299;
  EXPECT_EQ(WithoutDate(SerializeResponse(odd, 11, false, false)),
            "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n");
  std::string s = SerializeResponse(odd, 11, false, false);
  EXPECT_NE(s.find("\r\nDate: "), std::string::npos);
}

TEST(WireTest, CheckResponse) {
  Response ok = Response::Json(200, "{}");
  ok.headers.emplace_back("X-Porthole-Extensions", "long-poll=55, host-keys");
  EXPECT_EQ(CheckResponse(ok), "");
  struct Case {
    Response r;
    std::string why;
  };
  auto with_header = [](std::string n, std::string v) {
    Response r;
    r.headers.emplace_back(std::move(n), std::move(v));
    return r;
  };
  Response s100;
  s100.status = 100;
  Response s600;
  s600.status = 600;
  Response s204;
  s204.status = 204;
  s204.body = "x";
  const Case cases[] = {
      {s100, "status 100 out of range"},
      {s600, "status 600 out of range"},
      {s204, "a body with status 204"},
      {with_header("", "v"), "an empty header name"},
      {with_header("Bad Name", "v"), "header name 'Bad Name' is not a token"},
      {with_header("X:", "v"), "header name 'X:' is not a token"},
      {with_header("Content-Length", "5"),
       "header Content-Length is set by the server"},
      {with_header("connection", "close"),
       "header connection is set by the server"},
      {with_header("Transfer-Encoding", "chunked"),
       "header Transfer-Encoding is set by the server"},
      {with_header("X", "a\r\nSet-Cookie: y"),
       "header X has CR, LF or NUL in its value"},
      {with_header("X", std::string("a\0b", 3)),
       "header X has CR, LF or NUL in its value"},
  };
  for (const Case& c : cases) EXPECT_EQ(CheckResponse(c.r), c.why);
}

TEST(WireTest, ErrorResponse) {
  Response r = ErrorResponse(413, "request body larger than 65536 bytes");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body,
            "{\"code\":\"payload_too_large\",\"description\":\"request body "
            "larger than 65536 bytes\"}");
  EXPECT_EQ(ErrorResponse(400, "a \"quote\"\\\n").body,
            "{\"code\":\"bad_request\",\"description\":\"a \\\"quote\\\"\\\\"
            "\\u000a\"}");
  EXPECT_EQ(ErrorResponse(431, "").body.substr(0, 42),
            "{\"code\":\"request_header_fields_too_large\",");
}

TEST(WireTest, HttpDate) {
  EXPECT_EQ(HttpDate(std::chrono::system_clock::from_time_t(784111777)),
            "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(HttpDate(std::chrono::system_clock::from_time_t(1577836800)),
            "Wed, 01 Jan 2020 00:00:00 GMT");
}

}  // namespace
}  // namespace porthole::httpd
