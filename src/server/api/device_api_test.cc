// The device listener's handlers (PROTOCOL.md 3 and
// docs/device-api-extensions.md) against a real store, checked with the
// agent's own parsers where the agent reads the answer.
#include "server/api/device_api.h"

#include "core/tuf/session_check.h"
#include "server/api/api_test_fixture.h"
#include "server/api/long_poll.h"

namespace porthole::server::api {
namespace {

class DeviceApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    dev_ = AddDevice("dev-7");
  }

  Request Req(const std::string& method, const std::string& path,
              std::string body = "") {
    Request r;
    r.method = method;
    r.path = path;
    r.body = std::move(body);
    r.peer = "127.0.0.1:5000";
    r.client_cert_cn = dev_.id;
    r.client_cert_sha256 = dev_.cert_sha256;
    return r;
  }
  Response Do(Request r) {
    std::optional<Response> resp = Call(api_, std::move(r));
    EXPECT_TRUE(resp.has_value());
    EXPECT_EQ(resp->Header("X-Porthole-Extensions"), "long-poll=55, host-keys");
    return resp ? *resp : Response();
  }

  Session Open(const std::vector<std::string>& keys) {
    NewSession n;
    n.device_id = dev_.id;
    n.operator_keys = keys;
    n.opened_by = "alice";
    n.created_at = clock_.Now();
    n.expires_at = clock_.Now() + std::chrono::hours(1);
    Result<Session> s = store_->OpenSession(n);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return *s;
  }

  Device dev_;
  DeviceApi api_{&ctx_};
};

TEST_F(DeviceApiTest, RefusesUnknownWrongAndRemovedCertificates) {
  Request unknown = Req("GET", "/ras/sessions");
  unknown.client_cert_cn = crypto::RandomUuidV4();
  Response r = Do(unknown);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Body(r)["code"], "unknown_device");

  Request by_name = Req("GET", "/ras/sessions");
  by_name.client_cert_cn = "dev-7";  // a name is not an identity
  EXPECT_EQ(Do(by_name).status, 403);

  Request other_cert = Req("GET", "/ras/sessions");
  other_cert.client_cert_sha256 = std::string(64, 'f');
  r = Do(other_cert);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Body(r)["description"],
            "certificate is not the one issued to the device");

  ASSERT_TRUE(store_->RemoveDevice(dev_.id, clock_.Now()).ok());
  r = Do(Req("GET", "/ras/sessions"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Body(r)["code"], "device_removed");
  EXPECT_EQ(metrics_.device_refused, 4u);
}

TEST_F(DeviceApiTest, ARefusedDeviceIsAuditedOnceAMinuteNotPerPoll) {
  ASSERT_TRUE(store_->RemoveDevice(dev_.id, clock_.Now()).ok());
  auto refusals = [&] {
    auto events = store_->ListAudit({.device_id = dev_.id});
    EXPECT_TRUE(events.ok());
    size_t n = 0;
    for (const AuditEvent& e : *events) n += e.kind == "api.refused";
    return n;
  };
  for (int i = 0; i < 5; ++i) {
    Response r = Do(Req("GET", "/ras/sessions"));
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(Body(r)["description"], "device removed");
  }
  EXPECT_EQ(refusals(), 1u);
  EXPECT_EQ(metrics_.device_refused, 5u);  // every refusal still counts
  clock_.Advance(std::chrono::seconds(61));
  EXPECT_EQ(Do(Req("GET", "/ras/sessions")).status, 403);
  EXPECT_EQ(refusals(), 2u);
}

TEST_F(DeviceApiTest, SessionsIs404ThenTheDeviceSession) {
  Response none = Do(Req("GET", "/ras/sessions"));
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(
      none.body,
      R"({"code":"missing_remote_session","description":"no remote session for this device"})");
  std::string tag404 = TagOfResponse(none);
  EXPECT_EQ(tag404.size(), 16u);

  std::string alice = TestKeyLine("ed25519.pub");
  ASSERT_TRUE(director_
                  ->Edit([&](director::Policy& p) {
                    return p.AllowKey(alice, "alice");
                  })
                  .ok());
  Session s = Open({alice});
  Response r = Do(Req("GET", "/ras/sessions"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(
      r.body,
      R"({"ssh":{"authorized_pubkeys":[")" + alice +
          R"("],"expires_at":"2027-01-15T09:00:00Z","ra_server_ssh_pubkey":")" +
          relay_key_ + R"(","ra_server_url":"ssh://)" + dev_.id +
          R"(@relay.example.com:2222","reverse_port":)" +
          std::to_string(s.reverse_port) + "}}");
  // What the agent makes of it: parses, and the signed policy allows it.
  tuf::ErrorOr<tuf::DeviceSession> parsed = tuf::ParseDeviceSession(r.body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message();
  Result<director::PublishedPolicy> policy = director_->Published();
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(tuf::CheckSession(policy->ssh, *parsed).empty());
  EXPECT_NE(TagOfResponse(r), tag404);

  // Closed: 404 at once.
  ASSERT_TRUE(
      *store_->EndSession(s.id, SessionState::kClosed, "x", clock_.Now()));
  EXPECT_EQ(Do(Req("GET", "/ras/sessions")).status, 404);
  EXPECT_EQ(metrics_.polls_sessions, 3u);
}

TEST_F(DeviceApiTest, LongPollAnswersWhenASessionOpens) {
  Response none = Do(Req("GET", "/ras/sessions"));
  Request poll = Req("GET", "/ras/sessions");
  poll.query = {{"wait", "30"}, {"seen", TagOfResponse(none)}};
  auto promise = std::make_shared<std::promise<Response>>();
  std::future<Response> future = promise->get_future();
  api_.Handle(poll, [promise](Response r) { promise->set_value(r); });
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(100)),
            std::future_status::timeout);

  Open({TestKeyLine("ed25519.pub")});
  hub_.Notify(DeviceTopic(dev_.id));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(2)),
            std::future_status::ready);
  Response r = future.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("X-Porthole-Extensions"), "long-poll=55, host-keys");

  // An unchanged tag with a short wait answers the same state at the end.
  Request again = Req("GET", "/ras/sessions");
  again.query = {{"wait", "1"}, {"seen", TagOfResponse(r)}};
  std::optional<Response> same = Call(api_, again);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->body, r.body);

  Request bad = Req("GET", "/ras/sessions");
  bad.query = {{"wait", "x"}};
  EXPECT_EQ(Do(bad).status, 400);
}

TEST_F(DeviceApiTest, APolicyChangeChangesTheSessionsTag) {
  std::string before = TagOfResponse(Do(Req("GET", "/ras/sessions")));
  ASSERT_TRUE(director_
                  ->Edit([](director::Policy& p) {
                    return p.AllowCommand("echo", {"x"});
                  })
                  .ok());
  EXPECT_NE(TagOfResponse(Do(Req("GET", "/ras/sessions"))), before);
}

TEST_F(DeviceApiTest, CommandsAndResults) {
  Response empty = Do(Req("GET", "/ras/commands"));
  EXPECT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, R"({"values":[]})");

  Command c;
  c.id = "urn:tdx-ota:command:" + crypto::RandomUuidV4();
  c.device_id = dev_.id;
  c.name = "echo";
  c.args = {"test"};
  c.created_by = "alice";
  c.created_at = clock_.Now();
  ASSERT_TRUE(store_->AddCommand(c).ok());
  Response list = Do(Req("GET", "/ras/commands"));
  EXPECT_EQ(
      list.body,
      R"({"values":[{"args":["test"],"created_at":"2027-01-15T08:00:00Z","id":")" +
          c.id + R"(","name":"echo"}]})");
  EXPECT_NE(TagOfResponse(list), TagOfResponse(empty));

  std::string result =
      R"({"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,"finished_at":"2027-01-15T08:00:03.123456789Z"})";
  Response posted =
      Do(Req("POST", "/ras/commands/" + c.id + "/result", result));
  EXPECT_EQ(posted.status, 204);
  EXPECT_EQ(posted.body, "");
  Result<Command> stored = store_->GetCommand(c.id);
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->done());
  EXPECT_EQ(stored->result_json, result);
  EXPECT_EQ(stored->exit_code, 0);
  EXPECT_EQ(Do(Req("GET", "/ras/commands")).body, R"({"values":[]})");

  // Delivered twice (RAC re-sends pending results): accepted, first kept.
  std::string second = R"({"success":false,"exit_code":null})";
  EXPECT_EQ(Do(Req("POST", "/ras/commands/" + c.id + "/result", second)).status,
            204);
  EXPECT_EQ(store_->GetCommand(c.id)->result_json, result);

  // Unknown ids, and another device's command, are RAC's command_not_found.
  std::string unknown = "urn:tdx-ota:command:" + crypto::RandomUuidV4();
  Response nf = Do(Req("POST", "/ras/commands/" + unknown + "/result", result));
  EXPECT_EQ(nf.status, 400);
  EXPECT_EQ(Body(nf)["code"], "command_not_found");
  EXPECT_TRUE(Body(nf)["description"].is_string());
  Device other = AddDevice("other");
  Command oc = c;
  oc.id = "urn:tdx-ota:command:" + crypto::RandomUuidV4();
  oc.device_id = other.id;
  ASSERT_TRUE(store_->AddCommand(oc).ok());
  EXPECT_EQ(Body(Do(Req("POST", "/ras/commands/" + oc.id + "/result",
                        result)))["code"],
            "command_not_found");
  EXPECT_EQ(
      Body(Do(Req("POST", "/ras/commands/nonsense/result", result)))["code"],
      "command_not_found");

  for (const char* bad : {"", "[]", "{}", R"({"success":"yes"})",
                          R"({"success":true,"exit_code":"0"})",
                          R"({"success":true,"stdout":1})"}) {
    Response r = Do(Req("POST", "/ras/commands/" + oc.id + "/result", bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Body(r)["code"], "invalid_result") << bad;
  }
  EXPECT_FALSE(store_->GetCommand(oc.id)->done());
}

TEST_F(DeviceApiTest, PublicKeysAndHostKeys) {
  std::string key = TestKeyLine("ed25519.pub");
  std::string body = R"({"key":")" + key + R"("})";
  EXPECT_EQ(Do(Req("POST", "/ras/public-keys", body)).status, 204);
  EXPECT_EQ(store_->FindDevice(dev_.id)->ssh_key, key);
  EXPECT_EQ(sessions_changed_, 1);
  // The same key again: nothing new to audit or re-check.
  EXPECT_EQ(Do(Req("POST", "/ras/public-keys", body)).status, 204);
  EXPECT_EQ(sessions_changed_, 1);
  std::string ec = TestKeyLine("ecdsa256.pub");
  EXPECT_EQ(
      Do(Req("POST", "/ras/public-keys", R"({"key":")" + ec + R"("})")).status,
      204);
  EXPECT_EQ(sessions_changed_, 2);
  AuditFilter filter;
  filter.device_id = dev_.id;
  Result<std::vector<AuditEvent>> events = store_->ListAudit(filter);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ(events->back().kind, "device.key");
  EXPECT_NE(events->back().details_json.find("replaced"), std::string::npos);

  for (std::string bad :
       {std::string("{}"), std::string("nope"),
        std::string(R"({"key":"ssh-ed25519 AAAA"})"),
        R"({"key":")" + TestKeyLine("ed25519-cert.pub") + R"("})",
        R"({"key":")" + TestKeyLine("sk-ed25519.pub") + R"("})",
        R"({"key":")" + key + R"(","x":1})"}) {
    Response r = Do(Req("POST", "/ras/public-keys", bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Body(r)["code"], "invalid_public_key");
  }
  EXPECT_EQ(store_->FindDevice(dev_.id)->ssh_key, ec);

  EXPECT_EQ(Do(Req("POST", "/ras/host-keys", R"({"keys":[")" + key + R"("]})"))
                .status,
            204);
  EXPECT_EQ(store_->FindDevice(dev_.id)->host_keys,
            std::vector<std::string>{key});
  for (std::string bad :
       {std::string(R"({"keys":[]})"), std::string(R"({"keys":"x"})"),
        std::string(R"({"keys":[1]})"), std::string(R"({"keys":["junk"]})")}) {
    Response r = Do(Req("POST", "/ras/host-keys", bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Body(r)["code"], "invalid_host_keys");
  }
}

TEST_F(DeviceApiTest, DirectorDocuments) {
  Response root = Do(Req("GET", "/director/root.json"));
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, *store_->GetMetadata("root", 1));
  EXPECT_EQ(Do(Req("GET", "/director/1.root.json")).body, root.body);
  for (const char* missing :
       {"/director/2.root.json", "/director/01.root.json",
        "/director/.root.json", "/director/x.json", "/director/"}) {
    Response r = Do(Req("GET", missing));
    EXPECT_EQ(r.status, 404) << missing;
    EXPECT_EQ(Body(r)["code"], "not_found");
  }
  Response rs = Do(Req("GET", "/director/remote-sessions.json"));
  EXPECT_EQ(rs.status, 200);
  EXPECT_EQ(rs.Header("Content-Type"), "application/json");
  EXPECT_EQ(Do(Req("POST", "/director/root.json")).status, 405);
  EXPECT_EQ(Do(Req("POST", "/ras/sessions")).status, 405);
  EXPECT_EQ(Do(Req("GET", "/ras/nothing")).status, 404);
  EXPECT_EQ(Do(Req("GET", "/elsewhere")).status, 404);
}

TEST_F(DeviceApiTest, BodyLimits) {
  EXPECT_EQ(DeviceApi::BodyLimit("POST", "/ras/commands/x/result"),
            kMaxResultBody);
  EXPECT_EQ(DeviceApi::BodyLimit("POST", "/ras/public-keys"), kMaxDeviceBody);
  EXPECT_EQ(DeviceApi::BodyLimit("GET", "/ras/commands/x/result"),
            kMaxDeviceBody);
}

}  // namespace
}  // namespace porthole::server::api
