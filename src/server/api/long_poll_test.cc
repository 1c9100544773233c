#include "server/api/long_poll.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>

#include "server/api/change_hub.h"
#include "server/api/timer_queue.h"

namespace porthole::server::api {
namespace {

using std::chrono::milliseconds;

Request WithQuery(std::map<std::string, std::string> query) {
  Request r;
  r.method = "GET";
  r.path = "/ras/sessions";
  r.query = std::move(query);
  return r;
}

TEST(LongPollTest, ParsesAndClampsParameters) {
  LongPollParams p;
  EXPECT_FALSE(ParseLongPoll(WithQuery({}), 55, &p));
  EXPECT_EQ(p.wait.count(), 0);
  EXPECT_FALSE(
      ParseLongPoll(WithQuery({{"wait", "25"}, {"seen", "ab12"}}), 55, &p));
  EXPECT_EQ(p.wait.count(), 25);
  EXPECT_EQ(p.seen, "ab12");
  EXPECT_FALSE(ParseLongPoll(WithQuery({{"wait", "999999"}}), 55, &p));
  EXPECT_EQ(p.wait.count(), 55);
  for (const char* bad : {"0", "-1", "", "abc", "1.5", "1e3", "9999999999"}) {
    std::optional<Response> r =
        ParseLongPoll(WithQuery({{"wait", bad}}), 55, &p);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("bad_request"), std::string::npos);
  }
  for (std::string bad : {std::string(), std::string("ABCD"),
                          std::string("xyz"), std::string(65, 'a')}) {
    std::optional<Response> r =
        ParseLongPoll(WithQuery({{"seen", bad}}), 55, &p);
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400);
  }
}

TEST(LongPollTest, TagsAreStable) {
  EXPECT_EQ(TagOf("x"), TagOf("x"));
  EXPECT_NE(TagOf("x"), TagOf("y"));
  EXPECT_EQ(TagOf("x").size(), 16u);
  Response r;
  SetTag(&r, "0123");
  EXPECT_EQ(r.Header("ETag"), "\"0123\"");
  EXPECT_EQ(TagOfResponse(r), "0123");
}

// A resource whose state the test changes; compute() returns its tag.
struct Resource {
  std::mutex mu;
  std::string state = "a";
  std::atomic<int> computed{0};
  Response Compute() {
    computed++;
    std::lock_guard<std::mutex> lock(mu);
    Response r;
    r.body = state;
    SetTag(&r, TagOf(state));
    return r;
  }
  void Set(std::string s) {
    std::lock_guard<std::mutex> lock(mu);
    state = std::move(s);
  }
};

struct Answer {
  std::promise<Response> promise;
  std::future<Response> future = promise.get_future();
  std::atomic<int> calls{0};
  Respond respond() {
    return [this](Response r) {
      if (calls++ == 0) promise.set_value(std::move(r));
    };
  }
};

TEST(LongPollTest, AnswersAtOnceWithoutWaitOrWithANewTag) {
  ChangeHub hub;
  TimerQueue timers;
  Resource res;
  for (LongPollParams p :
       {LongPollParams{}, LongPollParams{std::chrono::seconds(30), ""},
        LongPollParams{std::chrono::seconds(30), TagOf("old")}}) {
    Answer a;
    LongPoll(
        &hub, &timers, {"t"}, p, [&] { return res.Compute(); }, a.respond());
    ASSERT_EQ(a.future.wait_for(milliseconds(0)), std::future_status::ready);
    EXPECT_EQ(a.future.get().body, "a");
  }
  EXPECT_EQ(hub.waiters(), 0u);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(LongPollTest, WaitsForAChangeAndIgnoresSpuriousWakeups) {
  ChangeHub hub;
  TimerQueue timers;
  Resource res;
  Answer a;
  LongPoll(
      &hub, &timers, {"t", "u"},
      LongPollParams{std::chrono::seconds(30), TagOf("a")},
      [&] { return res.Compute(); }, a.respond());
  EXPECT_EQ(a.future.wait_for(milliseconds(50)), std::future_status::timeout);
  EXPECT_EQ(hub.waiters(), 2u);

  // A wake-up without a change: recomputed, still waiting, re-subscribed.
  int before = res.computed;
  hub.Notify("u");
  while (res.computed == before) std::this_thread::yield();
  EXPECT_EQ(a.future.wait_for(milliseconds(50)), std::future_status::timeout);

  res.Set("b");
  hub.Notify("other");  // not ours
  EXPECT_EQ(a.future.wait_for(milliseconds(50)), std::future_status::timeout);
  hub.Notify("t");
  ASSERT_EQ(a.future.wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  Response r = a.future.get();
  EXPECT_EQ(r.body, "b");
  EXPECT_EQ(TagOfResponse(r), TagOf("b"));
  EXPECT_EQ(hub.waiters(), 0u);
  EXPECT_EQ(timers.pending(), 0u);  // the deadline timer was cancelled
  hub.NotifyAll();
  EXPECT_EQ(a.calls, 1);
}

TEST(LongPollTest, AnswersTheUnchangedStateAtTheDeadline) {
  ChangeHub hub;
  TimerQueue timers;
  Resource res;
  Answer a;
  auto start = std::chrono::steady_clock::now();
  LongPoll(
      &hub, &timers, {"t"}, LongPollParams{std::chrono::seconds(1), TagOf("a")},
      [&] { return res.Compute(); }, a.respond());
  ASSERT_EQ(a.future.wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(990));
  EXPECT_EQ(a.future.get().body, "a");
  EXPECT_EQ(hub.waiters(), 0u);
}

TEST(LongPollTest, ManyConcurrentWaitersAllAnswerOnce) {
  ChangeHub hub;
  TimerQueue timers;
  Resource res;
  std::vector<std::unique_ptr<Answer>> answers;
  for (int i = 0; i < 500; ++i) {
    answers.push_back(std::make_unique<Answer>());
    LongPoll(
        &hub, &timers, {"t"},
        LongPollParams{std::chrono::seconds(30), TagOf("a")},
        [&] { return res.Compute(); }, answers.back()->respond());
  }
  res.Set("c");
  std::thread a([&] { hub.NotifyAll(); });
  std::thread b([&] { hub.Notify("t"); });
  a.join();
  b.join();
  for (auto& ans : answers) {
    ASSERT_EQ(ans->future.wait_for(std::chrono::seconds(5)),
              std::future_status::ready);
    EXPECT_EQ(ans->future.get().body, "c");
  }
  for (auto& ans : answers) EXPECT_EQ(ans->calls, 1);
  EXPECT_EQ(hub.waiters(), 0u);
}

TEST(TimerQueueTest, RunsInDeadlineOrderAndCancels) {
  TimerQueue q;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  auto add = [&](int v) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(v);
  };
  q.RunAfter(milliseconds(60), [&] {
    add(3);
    done.set_value();
  });
  auto cancel = q.RunAfter(milliseconds(30), [&] { add(99); });
  q.RunAfter(milliseconds(20), [&] { add(2); });
  q.Post([&] { add(1); });
  cancel();
  cancel();  // twice is fine
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)),
            std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace porthole::server::api
