#include "agent/server_extensions.h"

#include <gtest/gtest.h>

namespace porthole::agent {
namespace {

using std::chrono::milliseconds;

http::HttpResponse Response(
    std::vector<std::pair<std::string, std::string>> headers) {
  http::HttpResponse r;
  r.status = 200;
  r.headers = std::move(headers);
  return r;
}

TEST(ExtensionsTest, ParsesTheHeaderStrictly) {
  const std::pair<const char*, ServerExtensions> cases[] = {
      {"long-poll=55, host-keys", {55, true}},
      {"long-poll=55,host-keys", {55, true}},
      {" \thost-keys\t ,  long-poll=1 ", {1, true}},
      {"host-keys", {0, true}},
      {"long-poll=2147483647", {2147483647, false}},
      {"", {0, false}},
      {",,,", {0, false}},
      // Unknown and malformed tokens turn nothing on.
      {"long-poll, host-keys=1", {0, false}},
      {"long-poll=0", {0, false}},
      {"long-poll=055", {0, false}},
      {"long-poll=+5", {0, false}},
      {"long-poll=-5", {0, false}},
      {"long-poll=5s", {0, false}},
      {"long-poll=2147483648", {0, false}},
      {"long-poll=99999999999999999999", {0, false}},
      {"long-poll = 5", {0, false}},
      {"Long-Poll=5, HOST-KEYS", {0, false}},
      {"long-poll=5;q=1", {0, false}},
      {"later=1, long-poll=30, future", {30, false}},
      // The last of repeated tokens counts.
      {"long-poll=30, long-poll=10", {10, false}},
      {"long-poll=30, long-poll=x", {0, false}},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    ServerExtensions got = ParseExtensions(text);
    EXPECT_EQ(got.long_poll_max, want.long_poll_max);
    EXPECT_EQ(got.host_keys, want.host_keys);
  }
}

TEST(ExtensionsTest, RepeatedHeaderLinesAreOneList) {
  EXPECT_EQ(ExtensionsOf(Response({{"x-porthole-extensions", "long-poll=9"},
                                   {"etag", "\"ab\""},
                                   {"x-porthole-extensions", "host-keys"}})),
            (ServerExtensions{9, true}));
  EXPECT_EQ(ExtensionsOf(Response({{"etag", "\"ab\""}})), ServerExtensions());
}

TEST(ExtensionsTest, ETag) {
  EXPECT_EQ(ParseETag("\"3f1c0b8e2a474b3e\""), "3f1c0b8e2a474b3e");
  EXPECT_EQ(ParseETag(" \"0\" "), "0");
  EXPECT_EQ(ParseETag("\"" + std::string(64, 'a') + "\""),
            std::string(64, 'a'));
  for (const std::string& bad : std::vector<std::string>{
           "", "\"\"", "3f1c", "\"3F1C\"", "W/\"3f1c\"", "\"3f1c", "\"3f 1c\"",
           "\"3f1c\"x", "\"" + std::string(65, 'a') + "\"", "\"g\""}) {
    EXPECT_FALSE(ParseETag(bad).has_value()) << bad;
  }
}

TEST(ExtensionsTest, StateFollowsTheLatestResponse) {
  ExtensionState state;
  EXPECT_EQ(state.Get(), ServerExtensions());
  state.Update(
      Response({{"x-porthole-extensions", "long-poll=55, host-keys"}}));
  EXPECT_EQ(state.Get(), (ServerExtensions{55, true}));
  // A response without the header (a proxy's error page, a RAC server)
  // turns the extensions off.
  state.Update(Response({}));
  EXPECT_EQ(state.Get(), ServerExtensions());
}

class LongPollTest : public ::testing::Test {
 protected:
  void Announce(const char* value) {
    state_.Update(Response({{"x-porthole-extensions", value}}));
  }
  http::HttpRequest Next(LongPoll& poll, std::optional<milliseconds> cap = {}) {
    http::HttpRequest r{.url = "https://s/ras/sessions"};
    poll.Prepare(&r, cap);
    return r;
  }
  static http::HttpResponse Tagged(const char* tag) {
    return Response({{"etag", std::string("\"") + tag + "\""}});
  }
  ExtensionState state_;
};

TEST_F(LongPollTest, OrdinaryRequestsWithoutTheAnnouncement) {
  LongPoll poll(&state_, config::Duration::Seconds(25), milliseconds(10000));
  http::HttpRequest r = Next(poll);
  EXPECT_EQ(r.url, "https://s/ras/sessions");
  EXPECT_FALSE(r.timeout.has_value());
  poll.Answered(Tagged("ab"), milliseconds(5));
  EXPECT_FALSE(poll.AgainAtOnce());
  Announce("host-keys");
  EXPECT_EQ(poll.Wait(), 0u);
  EXPECT_FALSE(poll.AgainAtOnce());
  // Announced after that ordinary answer: the first long poll at once.
  Announce("long-poll=30");
  EXPECT_TRUE(poll.AgainAtOnce());
}

TEST_F(LongPollTest, WaitIsCappedAndRoundedDown) {
  Announce("long-poll=55");
  LongPoll poll(&state_, config::Duration::Seconds(25), milliseconds(10000));
  EXPECT_EQ(poll.Wait(), 25u);
  EXPECT_EQ(poll.Wait(milliseconds(3000)), 3u);
  EXPECT_EQ(poll.Wait(milliseconds(1999)), 1u);
  EXPECT_EQ(poll.Wait(milliseconds(999)), 0u);
  Announce("long-poll=10");
  EXPECT_EQ(poll.Wait(), 10u);
  LongPoll off(&state_, config::Duration{0, 900'000'000}, milliseconds(10000));
  EXPECT_EQ(off.Wait(), 0u);
  LongPoll long_one(&state_, config::Duration::Seconds(3600),
                    milliseconds(10000));
  EXPECT_EQ(long_one.Wait(), 10u);
}

TEST_F(LongPollTest, FollowsTheDocument) {
  Announce("long-poll=55");
  LongPoll poll(&state_, config::Duration::Seconds(20), milliseconds(10000));
  // First: no tag yet, answered at once, with a tag: again at once.
  http::HttpRequest r = Next(poll);
  EXPECT_EQ(r.url, "https://s/ras/sessions?wait=20");
  EXPECT_EQ(r.timeout, milliseconds(30000));
  poll.Answered(Tagged("a1"), milliseconds(3));
  EXPECT_TRUE(poll.AgainAtOnce());
  EXPECT_EQ(poll.tag(), "a1");
  // Held the whole wait, unchanged: again at once.
  EXPECT_EQ(Next(poll).url, "https://s/ras/sessions?wait=20&seen=a1");
  poll.Answered(Tagged("a1"), milliseconds(20000));
  EXPECT_TRUE(poll.AgainAtOnce());
  // Changed early: again at once.
  Next(poll);
  poll.Answered(Tagged("b2"), milliseconds(100));
  EXPECT_TRUE(poll.AgainAtOnce());
  // Unchanged in less than half the wait: a misbehaving server or proxy.
  EXPECT_EQ(Next(poll).url, "https://s/ras/sessions?wait=20&seen=b2");
  poll.Answered(Tagged("b2"), milliseconds(9999));
  EXPECT_FALSE(poll.AgainAtOnce());
  Next(poll);
  poll.Answered(Tagged("b2"), milliseconds(10000));
  EXPECT_TRUE(poll.AgainAtOnce());
  // No tag in the answer: nothing to send as seen next.
  Next(poll);
  poll.Answered(Response({}), milliseconds(10));
  EXPECT_FALSE(poll.AgainAtOnce());
  EXPECT_EQ(Next(poll).url, "https://s/ras/sessions?wait=20");
  // A transport failure forgets the tag.
  poll.Answered(Tagged("c3"), milliseconds(10));
  poll.Forget();
  EXPECT_FALSE(poll.AgainAtOnce());
  EXPECT_EQ(Next(poll).url, "https://s/ras/sessions?wait=20");
  // The announcement withdrawn: an ordinary request.
  state_.Update(Response({}));
  poll.Seed("d4");
  r = Next(poll);
  EXPECT_EQ(r.url, "https://s/ras/sessions");
  poll.Answered(Tagged("d4"), milliseconds(20000));
  EXPECT_FALSE(poll.AgainAtOnce());
}

}  // namespace
}  // namespace porthole::agent
