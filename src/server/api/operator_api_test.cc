// The operator listener's handlers (docs/operator-api.md) against a real
// store and director.
#include "server/api/operator_api.h"

#include "core/crypto/digest.h"
#include "server/api/api_test_fixture.h"
#include "server/api/long_poll.h"

namespace porthole::server::api {
namespace {

class OperatorApiTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    Token t;
    t.name = "alice";
    t.sha256 = crypto::HexEncode(crypto::Sha256(kSecret));
    t.created_at = clock_.Now();
    ASSERT_TRUE(store_->AddToken(t).ok());
    dev_ = AddDevice("dev-7");
    ASSERT_TRUE(director_
                    ->Edit([&](director::Policy& p) {
                      Status s = p.AllowKey(alice_, "alice");
                      if (!s.ok()) return s;
                      return p.AllowCommand("echo", {"test"});
                    })
                    .ok());
  }

  Request Req(const std::string& method, const std::string& path,
              std::string body = "") {
    Request r;
    r.method = method;
    r.path = path;
    r.body = std::move(body);
    r.peer = "127.0.0.1:6000";
    r.headers = {{"authorization", std::string("Bearer ") + kSecret}};
    return r;
  }
  Response Do(Request r) {
    std::optional<Response> resp = Call(api_, std::move(r));
    EXPECT_TRUE(resp.has_value());
    return resp ? *resp : Response();
  }
  Json OpenBody(const std::vector<std::string>& keys,
                const std::string& device = "dev-7") {
    return Json{{"device", device}, {"keys", keys}, {"ttl", "2h"}};
  }

  static constexpr char kSecret[] = "pht_test-secret";
  std::string alice_ = TestKeyLine("ed25519.pub");
  Device dev_;
  OperatorApi api_{&ctx_, [] { return std::string("extra_metric 1\n"); }};
};

TEST_F(OperatorApiTest, RequiresAValidToken) {
  Request none = Req("GET", "/api/v1/devices");
  none.headers.clear();
  Response r = Do(none);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Body(r)["code"], "unauthorized");
  EXPECT_EQ(r.Header("WWW-Authenticate"), "Bearer");
  Request wrong = Req("GET", "/api/v1/devices");
  wrong.headers = {{"authorization", "Bearer nope"}};
  EXPECT_EQ(Do(wrong).status, 401);
  ASSERT_TRUE(store_->RevokeToken("alice", clock_.Now()).ok());
  EXPECT_EQ(Do(Req("GET", "/api/v1/devices")).status, 401);
  EXPECT_EQ(metrics_.operator_unauthorized, 3u);
  // /metrics needs none.
  Request m = Req("GET", "/metrics");
  m.headers.clear();
  Response metrics = Do(m);
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("porthole_devices 1\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("porthole_operator_unauthorized_total 3\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("extra_metric 1\n"), std::string::npos);
}

TEST_F(OperatorApiTest, Devices) {
  Response list = Do(Req("GET", "/api/v1/devices"));
  ASSERT_EQ(list.status, 200);
  Json devices = Body(list)["devices"];
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0]["name"], "dev-7");
  EXPECT_EQ(devices[0]["session"], nullptr);
  EXPECT_EQ(Body(Do(Req("GET", "/api/v1/devices/" + dev_.id)))["name"],
            "dev-7");
  EXPECT_EQ(Do(Req("GET", "/api/v1/devices/nope")).status, 404);
  EXPECT_EQ(Do(Req("POST", "/api/v1/devices")).status, 405);
}

TEST_F(OperatorApiTest, OpenShowCloseASession) {
  std::string relay_only = TestKeyLine("rsa2048.pub");
  Json body = OpenBody({alice_});
  body["relay_keys"] = {relay_only};
  Response opened = Do(Req("POST", "/api/v1/sessions", body.dump()));
  ASSERT_EQ(opened.status, 201) << opened.body;
  Json s = Body(opened);
  EXPECT_EQ(s["device_name"], "dev-7");
  EXPECT_EQ(s["state"], "open");
  EXPECT_EQ(s["expires_at"], "2027-01-15T10:00:00Z");
  EXPECT_EQ(s["relay"]["port"], 2222);
  EXPECT_EQ(s["relay_keys"][0], relay_only);
  EXPECT_EQ(sessions_changed_, 1);
  std::string id = s["id"];

  // The device sees only the operator keys.
  Result<std::optional<Session>> live =
      store_->LiveSessionOfDevice(dev_.id, clock_.Now());
  ASSERT_TRUE(live.ok() && *live);
  EXPECT_EQ((*live)->operator_keys, std::vector<std::string>{alice_});

  // One live session per device: the existing one comes back.
  Response again =
      Do(Req("POST", "/api/v1/sessions", OpenBody({alice_}).dump()));
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Body(again)["code"], "session_exists");
  EXPECT_EQ(Body(again)["session"]["id"], id);

  Json listed = Body(Do(Req("GET", "/api/v1/sessions")))["sessions"];
  ASSERT_EQ(listed.size(), 1u);

  // Long poll on the session: the tunnel coming up answers it.
  Response shown = Do(Req("GET", "/api/v1/sessions/" + id));
  Request poll = Req("GET", "/api/v1/sessions/" + id);
  poll.query = {{"wait", "30"}, {"seen", TagOfResponse(shown)}};
  auto promise = std::make_shared<std::promise<Response>>();
  auto future = promise->get_future();
  api_.Handle(poll, [promise](Response r) { promise->set_value(r); });
  EXPECT_EQ(future.wait_for(std::chrono::milliseconds(100)),
            std::future_status::timeout);
  ASSERT_TRUE(store_->SetTunnelUp(id, true, clock_.Now()).ok());
  hub_.Notify(SessionTopic(id));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(2)),
            std::future_status::ready);
  EXPECT_EQ(Body(future.get())["tunnel_up"], true);

  Response closed = Do(Req("DELETE", "/api/v1/sessions/" + id));
  EXPECT_EQ(closed.status, 200);
  EXPECT_EQ(Body(closed)["state"], "closed");
  EXPECT_EQ(Body(closed)["end_reason"], "closed by alice");
  EXPECT_EQ(sessions_changed_, 2);
  EXPECT_FALSE(*store_->LiveSessionOfDevice(dev_.id, clock_.Now()));
  EXPECT_EQ(Do(Req("DELETE", "/api/v1/sessions/" + id)).status, 200);
  EXPECT_EQ(sessions_changed_, 2);
  EXPECT_TRUE(Body(Do(Req("GET", "/api/v1/sessions")))["sessions"].empty());
  EXPECT_EQ(Body(Do(Req("GET", "/api/v1/sessions?all=1")))["sessions"].size(),
            0u);  // the query string is parsed by the transport, not here
  Request all = Req("GET", "/api/v1/sessions");
  all.query = {{"all", "1"}};
  EXPECT_EQ(Body(Do(all))["sessions"].size(), 1u);
  EXPECT_EQ(Do(Req("POST", "/api/v1/sessions/" + id + "/relay-keys",
                   Json{{"key", relay_only}}.dump()))
                .status,
            409);

  AuditFilter f;
  f.device_id = dev_.id;
  std::vector<std::string> kinds;
  auto events = store_->ListAudit(f);
  ASSERT_TRUE(events.ok());
  for (const AuditEvent& e : *events) kinds.push_back(e.kind);
  EXPECT_EQ(kinds, (std::vector<std::string>{"session.open", "session.close"}));
}

TEST_F(OperatorApiTest, SessionRefusals) {
  struct Case {
    Json body;
    int status;
    std::string code;
  } cases[] = {
      {OpenBody({TestKeyLine("ecdsa384.pub")}), 403, "key_not_allowed"},
      {OpenBody({alice_}, "nope"), 404, "not_found"},
      {OpenBody({}), 400, "bad_request"},
      {OpenBody({"ssh-ed25519 AAAA"}), 400, "bad_request"},
      {OpenBody({TestKeyLine("ed25519-cert.pub")}), 400, "bad_request"},
      {Json{{"device", "dev-7"}, {"keys", {alice_}}, {"ttl", "100h"}}, 400,
       "bad_request"},
      {Json{{"device", "dev-7"}, {"keys", {alice_}}, {"ttl", "soon"}}, 400,
       "bad_request"},
      {Json{{"device", "dev-7"}, {"keys", {alice_}}, {"extra", 1}}, 400,
       "bad_request"},
      {Json{{"device", "dev-7"},
            {"keys", {alice_}},
            {"relay_keys", {TestKeyLine("sk-ed25519.pub")}}},
       400, "bad_request"},
  };
  for (const Case& c : cases) {
    Response r = Do(Req("POST", "/api/v1/sessions", c.body.dump()));
    EXPECT_EQ(r.status, c.status) << c.body.dump() << " " << r.body;
    EXPECT_EQ(Body(r)["code"], c.code) << c.body.dump();
  }
  // A policy that no longer allows the relay: devices would refuse.
  ASSERT_TRUE(director_
                  ->Edit([](director::Policy& p) {
                    return p.DenyRelayHost("relay.example.com");
                  })
                  .ok());
  Response r = Do(Req("POST", "/api/v1/sessions", OpenBody({alice_}).dump()));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Body(r)["code"], "policy_excludes_relay");
  // A removed device.
  ASSERT_TRUE(store_->RemoveDevice(dev_.id, clock_.Now()).ok());
  EXPECT_EQ(
      Do(Req("POST", "/api/v1/sessions", OpenBody({alice_}, dev_.id).dump()))
          .status,
      409);
  EXPECT_EQ(metrics_.sessions_opened, 0u);
}

TEST_F(OperatorApiTest, CommandsRoundTrip) {
  Response bad =
      Do(Req("POST", "/api/v1/commands",
             R"({"device":"dev-7","name":"echo","args":["other"]})"));
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(Body(bad)["code"], "command_not_allowed");
  Response created =
      Do(Req("POST", "/api/v1/commands",
             R"({"device":"dev-7","name":"echo","args":["test"]})"));
  ASSERT_EQ(created.status, 201) << created.body;
  Json c = Body(created);
  std::string id = c["id"];
  EXPECT_EQ(id.rfind("urn:tdx-ota:command:", 0), 0u);
  EXPECT_EQ(c["state"], "pending");
  EXPECT_EQ(c["result"], nullptr);

  Response shown = Do(Req("GET", "/api/v1/commands/" + id));
  Request poll = Req("GET", "/api/v1/commands/" + id);
  poll.query = {{"wait", "30"}, {"seen", TagOfResponse(shown)}};
  auto promise = std::make_shared<std::promise<Response>>();
  auto future = promise->get_future();
  api_.Handle(poll, [promise](Response r) { promise->set_value(r); });
  CommandResult result;
  result.json =
      R"({"success":true,"stdout":"test","stderr":"","error":null,"exit_code":0,"finished_at":"2027-01-15T08:00:01Z"})";
  result.success = true;
  result.exit_code = 0;
  result.at = clock_.Now();
  ASSERT_TRUE(*store_->SetCommandResult(dev_.id, id, result));
  hub_.Notify(CommandTopic(id));
  ASSERT_EQ(future.wait_for(std::chrono::seconds(2)),
            std::future_status::ready);
  Json done = Body(future.get());
  EXPECT_EQ(done["state"], "done");
  EXPECT_EQ(done["result"]["stdout"], "test");
  EXPECT_EQ(done["result"]["exit_code"], 0);
  EXPECT_EQ(done["result"]["received_at"], "2027-01-15T08:00:00Z");

  EXPECT_EQ(Body(Do(Req("GET", "/api/v1/commands")))["commands"].size(), 1u);
  EXPECT_EQ(Do(Req("GET", "/api/v1/commands/urn:tdx-ota:command:nope")).status,
            404);
  EXPECT_EQ(Do(Req("POST", "/api/v1/commands", R"({"device":"dev-7"})")).status,
            400);
}

TEST_F(OperatorApiTest, PolicyEditsAndExport) {
  Json shown = Body(Do(Req("GET", "/api/v1/policy")));
  EXPECT_EQ(shown["remote_sessions"]["version"], 2);
  EXPECT_EQ(shown["remote_sessions"]["keys_online"], true);
  EXPECT_EQ(shown["published"]["authorized_keys"][0]["name"], "alice");

  std::string bob = TestKeyLine("ecdsa384.pub");
  Response added = Do(Req("POST", "/api/v1/policy/keys",
                          Json{{"key", bob}, {"name", "bob"}}.dump()));
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(Body(added)["published_version"], 3);
  EXPECT_EQ(Do(Req("POST", "/api/v1/sessions", OpenBody({bob}).dump())).status,
            201);

  Request del = Req("DELETE", "/api/v1/policy/keys");
  del.query = {{"key", "bob"}};
  EXPECT_EQ(Body(Do(del))["published_version"], 4);
  EXPECT_EQ(Do(Req("DELETE", "/api/v1/policy/keys")).status, 400);
  EXPECT_EQ(Do(Req("DELETE", "/api/v1/policy/commands/echo")).status, 200);
  EXPECT_EQ(Do(Req("DELETE", "/api/v1/policy/commands/echo")).status, 404);
  EXPECT_EQ(
      Do(Req("POST", "/api/v1/policy/commands", R"({"name":"rm","args":[]})"))
          .status,
      400);

  Response exported = Do(Req("GET", "/api/v1/policy/export"));
  EXPECT_EQ(exported.status, 200);
  EXPECT_NE(exported.body.find("\"version\": 6"), std::string::npos)
      << exported.body;
  Response imported = Do(Req("POST", "/api/v1/policy/import", exported.body));
  EXPECT_EQ(imported.status, 400);  // unsigned

  Json relay = Body(Do(Req("GET", "/api/v1/relay")));
  EXPECT_EQ(relay["host"], "relay.example.com");
  EXPECT_EQ(relay["host_key"], relay_key_);

  Json audit = Body(Do(Req("GET", "/api/v1/audit")))["events"];
  ASSERT_GE(audit.size(), 3u);
  EXPECT_EQ(audit[0]["kind"], "policy.change");
  Request since = Req("GET", "/api/v1/audit");
  since.query = {{"after", std::to_string(audit.back()["seq"].get<int64_t>())}};
  EXPECT_TRUE(Body(Do(since))["events"].empty());
  since.query = {{"since", "yesterday"}};
  EXPECT_EQ(Do(since).status, 400);
  // Echoed input that is not UTF-8 still makes a valid JSON error.
  since.query = {{"since", "2066-\xa6\xa6T0:00Z"}};
  Response bad_utf8 = Do(since);
  EXPECT_EQ(bad_utf8.status, 400);
  EXPECT_TRUE(tuf::ParseJson(bad_utf8.body).ok()) << bad_utf8.body;
}

TEST_F(OperatorApiTest, ParsesDurations) {
  auto d = [](const Json& j) {
    return OperatorApi::ParseApiDuration(j, "ttl");
  };
  EXPECT_EQ(d(90)->count(), 90);
  EXPECT_EQ(d("1h30m")->count(), 5400);
  EXPECT_EQ(d("2d")->count(), 172800);
  EXPECT_EQ(d("1w")->count(), 604800);
  EXPECT_FALSE(d(-1).ok());
  EXPECT_FALSE(d("d").ok());
  EXPECT_FALSE(d("x1d").ok());
  EXPECT_FALSE(d(1.5).ok());
  EXPECT_FALSE(d(Json::array()).ok());
}

}  // namespace
}  // namespace porthole::server::api
