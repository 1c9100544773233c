#include "core/httpd/request_reader.h"

#include <gtest/gtest.h>

namespace porthole::httpd {
namespace {

using State = RequestReader::State;

struct Outcome {
  State state;
  int status = 0;
  std::string reason;
  Request request;
  size_t used = 0;  // bytes of the input taken
};

// Feeds `raw` in pieces of `step` bytes (0: all at once) the way a
// connection does, with `body_limit` for every request.
Outcome Read(std::string_view raw, size_t step = 0, uint64_t body_limit = 1000,
             size_t header_limit = 512) {
  RequestReader r(header_limit);
  std::string buffered;
  size_t offered = 0, used = 0;
  for (;;) {
    if (r.state() == State::kHeaderDone) {
      r.StartBody(body_limit);
      continue;
    }
    if (r.state() != State::kNeedMore) break;
    if (offered == raw.size() && buffered.empty()) break;
    size_t take =
        step == 0 ? raw.size() - offered : std::min(step, raw.size() - offered);
    buffered.append(raw.substr(offered, take));
    offered += take;
    size_t n = r.Feed(buffered);
    used += n;
    buffered.erase(0, n);
    if (take == 0 && n == 0) break;  // wants more than there is
  }
  Outcome o{r.state(), r.error_status(), r.error_reason(), {}, used};
  if (r.state() == State::kComplete) o.request = r.TakeRequest();
  return o;
}

TEST(RequestReaderTest, SimpleGet) {
  for (size_t step : {0, 1, 3, 7}) {
    Outcome o = Read(
        "GET /ras/sessions?wait=25 HTTP/1.1\r\nHost: localhost\r\n"
        "User-Agent: rac/0.1\r\nX-Ats-Namespace:  ns \r\nAccept: */*\r\n\r\n",
        step);
    ASSERT_EQ(o.state, State::kComplete) << step << ": " << o.reason;
    const Request& r = o.request;
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.target, "/ras/sessions?wait=25");
    EXPECT_EQ(r.path, "/ras/sessions");
    ASSERT_NE(r.Query("wait"), nullptr);
    EXPECT_EQ(*r.Query("wait"), "25");
    EXPECT_EQ(r.Query("seen"), nullptr);
    EXPECT_EQ(r.version, 11);
    EXPECT_EQ(r.headers, (HeaderList{{"host", "localhost"},
                                     {"user-agent", "rac/0.1"},
                                     {"x-ats-namespace", "ns"},
                                     {"accept", "*/*"}}));
    EXPECT_EQ(*r.Header("x-ats-namespace"), "ns");
    EXPECT_TRUE(r.body.empty());
  }
}

TEST(RequestReaderTest, Bodies) {
  Outcome o = Read(
      "POST /ras/public-keys HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
      "Content-Type: application/json\r\n\r\n{\"key\":\"k\"}",
      5);
  ASSERT_EQ(o.state, State::kComplete) << o.reason;
  EXPECT_EQ(o.request.body, "{\"key\":\"k\"}");

  o = Read(
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
      4);
  ASSERT_EQ(o.state, State::kComplete) << o.reason;
  EXPECT_EQ(o.request.body, "hello world");
}

TEST(RequestReaderTest, PipelinedRequestsAreTakenOneByOne) {
  std::string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  Outcome o = Read(first + second);
  ASSERT_EQ(o.state, State::kComplete);
  EXPECT_EQ(o.request.path, "/a");
  EXPECT_EQ(o.used, first.size());
}

TEST(RequestReaderTest, KeepAliveAndHead) {
  struct Case {
    std::string raw;
    bool keep_alive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    RequestReader r(512);
    r.Feed(c.raw);
    ASSERT_EQ(r.state(), State::kHeaderDone) << c.raw;
    r.StartBody(0);
    ASSERT_EQ(r.state(), State::kComplete);
    EXPECT_EQ(r.keep_alive(), c.keep_alive) << c.raw;
  }
  RequestReader r(512);
  r.Feed("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state(), State::kHeaderDone);
  EXPECT_TRUE(r.is_head());
}

TEST(RequestReaderTest, ExpectContinue) {
  RequestReader r(512);
  r.Feed(
      "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
      "Expect: 100-Continue\r\n\r\n");
  ASSERT_EQ(r.state(), State::kHeaderDone);
  EXPECT_TRUE(r.expects_continue());
  EXPECT_EQ(r.content_length(), 5u);
  r.StartBody(5);
  EXPECT_EQ(r.state(), State::kNeedMore);
  EXPECT_TRUE(r.body_pending());
  EXPECT_EQ(r.Feed("hello"), 5u);
  EXPECT_EQ(r.state(), State::kComplete);
}

TEST(RequestReaderTest, BodyLimit) {
  // Content-Length over the limit: refused before any body byte.
  RequestReader r(512);
  r.Feed("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n");
  ASSERT_EQ(r.state(), State::kHeaderDone);
  r.StartBody(1000);
  EXPECT_EQ(r.state(), State::kError);
  EXPECT_EQ(r.error_status(), 413);
  EXPECT_EQ(r.error_reason(), "request body larger than 1000 bytes");
  // Exactly the limit is fine; a huge Content-Length is not a crash.
  EXPECT_EQ(
      Read("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", 0, 3)
          .state,
      State::kComplete);
  Outcome o = Read(
      "POST /x HTTP/1.1\r\nHost: h\r\n"
      "Content-Length: 99999999999999999999999\r\n\r\n");
  EXPECT_EQ(o.status, 400);
  // Chunked: refused when the chunks add up to more.
  o = Read(
      "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      0, 4);
  EXPECT_EQ(o.state, State::kError);
  EXPECT_EQ(o.status, 413);
  EXPECT_EQ(o.reason, "request body larger than 4 bytes");
}

TEST(RequestReaderTest, Refused) {
  struct Case {
    std::string raw;
    int status;
    std::string reason;  // empty: any
  };
  const std::string big(600, 'a');
  const Case cases[] = {
      // Syntax (Beast).
      {"GET\r\n\r\n", 400, ""},
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, ""},
      {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, ""},
      {"GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400, ""},
      {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, ""},
      {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, ""},
      {"GET / HTTP/1.1\r\nHo\x01st: h\r\n\r\n", 400, ""},
      {std::string("GET / HTTP/1.1\r\nHost: h\0\r\n\r\n", 28), 400, ""},
      {"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400, ""},
      {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, ""},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400,
       ""},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
       "Content-Length: 6\r\n\r\nhello",
       400, ""},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400, ""},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "zz\r\n",
       400, ""},
      // Our rules.
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 400,
       "malformed request: bad version"},
      {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", 400,
       "malformed request: bad version"},
      {"GET / HTTP/0.9\r\n\r\n", 400, "malformed request: bad version"},
      {"GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
       "repeated Host header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\n"
       "Authorization: Bearer y\r\n\r\n",
       400, "repeated Authorization header"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: a\r\n"
       "content-type: b\r\n\r\n",
       400, "repeated Content-Type header"},
      {"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
       "Expect: 100-continue\r\n\r\n",
       400, "repeated Expect header"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
       "unsupported Transfer-Encoding"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       501, "unsupported Transfer-Encoding"},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "Transfer-Encoding in an HTTP/1.0 request"},
      {"POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417,
       "unsupported Expect"},
      {"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400,
       "request target must start with '/'"},
      {"CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", 400,
       "request target must start with '/'"},
      {"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400, "malformed percent-escape"},
      {"GET /a/../b HTTP/1.1\r\nHost: h\r\n\r\n", 400, "dot segment in path"},
      // Limits.
      {"GET /" + big + " HTTP/1.1\r\nHost: h\r\n\r\n", 431,
       "request header larger than 512 bytes"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: " + big + "\r\n\r\n", 431,
       "request header larger than 512 bytes"},
  };
  for (const Case& c : cases) {
    for (size_t step : {0, 1}) {
      Outcome o = Read(c.raw, step);
      EXPECT_EQ(o.state, State::kError) << c.raw << " step " << step;
      EXPECT_EQ(o.status, c.status) << c.raw << ": " << o.reason;
      if (!c.reason.empty()) {
        EXPECT_EQ(o.reason, c.reason) << c.raw;
      }
    }
  }
}

TEST(RequestReaderTest, IncompleteStaysIncomplete) {
  for (std::string raw : {"GET / HTTP/1.1\r\nHost: h\r\n",
                          "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n"
                          "\r\nabc"}) {
    Outcome o = Read(raw, 1);
    EXPECT_EQ(o.state, State::kNeedMore) << raw;
  }
}

}  // namespace
}  // namespace porthole::httpd
