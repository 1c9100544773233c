#include "cli/session_flow.h"

#include <gtest/gtest.h>

#include "cli/fake_http_for_test.h"
#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/keys/test_keys.h"
#include "core/tuf/rfc3339.h"

namespace porthole::cli {
namespace {

std::string Q(const std::string& s) { return tuf::DumpJson(Json(s)).value(); }

class SessionFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_line_ = keys::MakeTestKey(tmp_.path(), "id_ed25519", "ed25519", "me");
    other_line_ = keys::MakeTestKey(tmp_.path(), "other", "ed25519", "bob");
    key_ = LoadKeyArg(tmp_.Join("id_ed25519")).value();
  }

  std::string Device(const std::string& session) const {
    return R"({"id": "uuid-7", "name": "dev-7", "host_keys": [], "session": )" +
           (session.empty() ? "null" : Q(session)) + "}";
  }

  std::string Session(const std::string& id, const std::string& op_key,
                      const std::vector<std::string>& relay_keys = {},
                      const std::string& state = "open",
                      bool tunnel = false) const {
    Json j{
        {"id", id},
        {"device", "uuid-7"},
        {"device_name", "dev-7"},
        {"operator_keys", {op_key}},
        {"relay_keys", relay_keys},
        {"opened_by", "alice"},
        {"expires_at", "2099-01-01T00:00:00Z"},
        {"state", state},
        {"end_reason", state == "open" ? "" : "closed by bob"},
        {"tunnel_up", tunnel},
        {"relay",
         {{"host", "relay.test"}, {"port", 2222}, {"host_key", other_line_}}}};
    return tuf::DumpJson(j).value();
  }

  SessionNeeds Needs() {
    SessionNeeds n;
    n.device = "dev-7";
    n.keys = {key_};
    n.ttl = std::chrono::seconds(3600);
    n.store = &store_;
    return n;
  }

  std::vector<std::string> StoreEntries() {
    auto r = RunProcess({"ls", "-A", store_.dir()});
    std::vector<std::string> out;
    if (!r.ok()) return out;
    size_t pos = 0;
    while (pos < r->out.size()) {
      size_t nl = r->out.find('\n', pos);
      out.push_back(r->out.substr(pos, nl - pos));
      pos = nl + 1;
    }
    return out;
  }

  TempDir tmp_;
  RelayKeyStore store_{tmp_.Join("relay")};
  std::string key_line_, other_line_;
  OperatorKey key_;
  FakeApi f_;
};

TEST_F(SessionFlowTest, OpensWithAFreshRelayKey) {
  f_.On("GET /api/v1/devices/dev-7", 200, Device(""));
  // The server echoes the relay key it was sent; the test fills it in below.
  auto ready = [&] {
    f_.On("POST /api/v1/sessions", 201, Session("s-1", key_line_));
    return OpenOrReuseSession(f_.api, Needs());
  }();
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_TRUE(ready->opened);
  EXPECT_EQ(f_.Calls(), (std::vector<std::string>{"GET /api/v1/devices/dev-7",
                                                  "POST /api/v1/sessions"}));
  auto body = tuf::ParseJson(f_.script->requests[1].body).value();
  EXPECT_EQ(body["device"], "uuid-7");
  EXPECT_EQ(body["keys"], Json::array({key_line_}));
  EXPECT_EQ(body["ttl"], 3600);
  ASSERT_EQ(body["relay_keys"].size(), 1u);
  ASSERT_TRUE(ready->relay_key);
  EXPECT_EQ(body["relay_keys"][0], ready->relay_key->public_line);
  EXPECT_EQ(ready->relay_key->dir, store_.dir() + "/s-1");
  EXPECT_EQ(StoreEntries(), std::vector<std::string>{"s-1"});
  EXPECT_EQ(*ReadFile(store_.dir() + "/s-1/expires", 100),
            "2099-01-01T00:00:00Z\n");
}

TEST_F(SessionFlowTest, ReusesALiveSessionAndAddsARelayKeyOnce) {
  f_.On("GET /api/v1/devices/dev-7", 200, Device("s-1"));
  f_.On("GET /api/v1/sessions/s-1", 200, Session("s-1", key_line_));
  // The relay-keys answer lists whatever key was made: build it lazily by
  // checking the request afterwards.
  f_.On("POST /api/v1/sessions/s-1/relay-keys", 200,
        Session("s-1", key_line_, {"PLACEHOLDER"}));
  auto ready = OpenOrReuseSession(f_.api, Needs());
  ASSERT_TRUE(ready.ok()) << ready.status().message();
  EXPECT_FALSE(ready->opened);
  EXPECT_EQ(f_.Calls(),
            (std::vector<std::string>{"GET /api/v1/devices/dev-7",
                                      "GET /api/v1/sessions/s-1",
                                      "POST /api/v1/sessions/s-1/relay-keys"}));
  auto body = tuf::ParseJson(f_.script->requests[2].body).value();
  ASSERT_TRUE(ready->relay_key);
  EXPECT_EQ(body, Json({{"key", ready->relay_key->public_line}}));

  // Next time the session lists that key: nothing is added.
  FakeApi again;
  again.On("GET /api/v1/devices/dev-7", 200, Device("s-1"));
  again.On("GET /api/v1/sessions/s-1", 200,
           Session("s-1", key_line_, {ready->relay_key->public_line}));
  auto second = OpenOrReuseSession(again.api, Needs());
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(again.Calls(),
            (std::vector<std::string>{"GET /api/v1/devices/dev-7",
                                      "GET /api/v1/sessions/s-1"}));
  EXPECT_EQ(second->relay_key->key, ready->relay_key->key);
}

TEST_F(SessionFlowTest, AnEndedSessionIsReplacedAndItsRelayKeyDropped) {
  ASSERT_TRUE(
      store_.Create("s-old", tuf::ParseRfc3339("2099-01-01T00:00:00Z").value())
          .ok());
  f_.On("GET /api/v1/devices/dev-7", 200, Device("s-old"));
  f_.On("GET /api/v1/sessions/s-old", 200,
        Session("s-old", key_line_, {}, "expired"));
  f_.On("POST /api/v1/sessions", 201, Session("s-new", key_line_));
  auto r = OpenOrReuseSession(f_.api, Needs());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->opened);
  EXPECT_EQ(StoreEntries(), std::vector<std::string>{"s-new"});
}

TEST_F(SessionFlowTest, SomeoneElsesSessionIsNotTaken) {
  f_.On("GET /api/v1/devices/dev-7", 200, Device("s-9"));
  f_.On("GET /api/v1/sessions/s-9", 200, Session("s-9", other_line_));
  auto r = OpenOrReuseSession(f_.api, Needs());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "dev-7 already has a live session s-9 opened by alice that does "
            "not list your key " +
                key_.key.Fingerprint() +
                " (one live session per device): porthole session close s-9 "
                "first");
  EXPECT_EQ(f_.Calls().size(), 2u);  // nothing posted
  EXPECT_TRUE(StoreEntries().empty());
}

TEST_F(SessionFlowTest, RaceToOpenEndsInReuse) {
  f_.On("GET /api/v1/devices/dev-7", 200, Device(""));
  f_.On("POST /api/v1/sessions", 409,
        R"({"code": "session_exists", "description": "dev-7 has a live session",
            "session": )" +
            Session("s-2", key_line_) + "}");
  f_.On("POST /api/v1/sessions/s-2/relay-keys", 200,
        Session("s-2", key_line_, {"x"}));
  auto r = OpenOrReuseSession(f_.api, Needs());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->opened);
  EXPECT_EQ(r->session.id, "s-2");
  // The key made for the lost POST is gone; only the session's remains.
  EXPECT_EQ(StoreEntries(), std::vector<std::string>{"s-2"});
}

TEST_F(SessionFlowTest, RefusalLeavesNoKeyBehind) {
  f_.On("GET /api/v1/devices/dev-7", 200, Device(""));
  f_.On(
      "POST /api/v1/sessions", 403,
      R"({"code": "key_not_allowed", "description": "SHA256:abc is not allowed"})");
  auto r = OpenOrReuseSession(f_.api, Needs());
  EXPECT_EQ(r.status().message(),
            "server: SHA256:abc is not allowed (key_not_allowed)");
  EXPECT_TRUE(StoreEntries().empty());
  f_.On("GET /api/v1/devices/gone", 200,
        R"({"id": "u", "name": "gone", "removed_at": "2026-01-01T00:00:00Z"})");
  SessionNeeds n = Needs();
  n.device = "gone";
  EXPECT_EQ(OpenOrReuseSession(f_.api, n).status().message(),
            "device gone was removed on 2026-01-01T00:00:00Z");
}

// A clock that moves 10 s each time it is read.
class SteppingClock : public Clock {
 public:
  SystemTime Now() const override { return t_ += std::chrono::seconds(10); }

 private:
  mutable SystemTime t_ = tuf::ParseRfc3339("2026-12-04T10:00:00Z").value();
};

TEST_F(SessionFlowTest, WaitForTunnelLongPolls) {
  auto s = ParseSession(tuf::ParseJson(Session("s-1", key_line_)).value());
  ASSERT_TRUE(s.ok());
  f_.On("GET /api/v1/sessions/s-1?wait=25", 200, Session("s-1", key_line_),
        "t1");
  f_.On("GET /api/v1/sessions/s-1?wait=25&seen=t1", 200,
        Session("s-1", key_line_, {}, "open", true), "t2");
  int waits = 0;
  auto up =
      WaitForTunnel(f_.api, *s, std::chrono::seconds(120), [&] { ++waits; });
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_TRUE(up->tunnel_up);
  EXPECT_EQ(waits, 1);
  EXPECT_EQ(f_.Calls().size(), 2u);
  // Already up: no request, no progress line.
  auto again =
      WaitForTunnel(f_.api, *up, std::chrono::seconds(1), [&] { ++waits; });
  EXPECT_TRUE(again.ok());
  EXPECT_EQ(waits, 1);
}

TEST_F(SessionFlowTest, WaitForTunnelEndsOnCloseOrTimeout) {
  auto s = ParseSession(tuf::ParseJson(Session("s-1", key_line_)).value());
  f_.On("GET /api/v1/sessions/s-1?wait=25", 200,
        Session("s-1", key_line_, {}, "closed"), "t1");
  auto closed = WaitForTunnel(f_.api, *s, std::chrono::seconds(120), nullptr);
  EXPECT_EQ(closed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(closed.status().message(),
            "session s-1 on dev-7 is closed (closed by bob)");

  FakeApi slow;
  for (int i = 0; i < 20; ++i) {
    slow.On("GET /api/v1/sessions/s-1", 200, Session("s-1", key_line_),
            "tag" + std::to_string(i));
  }
  SteppingClock clock;
  auto late =
      WaitForTunnel(slow.api, *s, std::chrono::seconds(60), nullptr, clock);
  EXPECT_EQ(late.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(late.status().message(),
            "dev-7 did not connect within 1m; session s-1 stays open until "
            "2099-01-01T00:00:00Z (the device takes it at its next poll; "
            "porthole session close s-1 to drop it)");
}

}  // namespace
}  // namespace porthole::cli
