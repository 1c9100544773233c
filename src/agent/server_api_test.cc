#include "agent/server_api.h"

#include <gtest/gtest.h>

#include <deque>

namespace porthole::agent {
namespace {

// Answers with canned responses and records the requests.
class FakeHttp : public http::HttpClient {
 public:
  Result<http::HttpResponse> Send(const http::HttpRequest& r) override {
    requests.push_back(r);
    if (answers.empty()) return Status::Unavailable("no answer queued");
    Result<http::HttpResponse> a = std::move(answers.front());
    answers.pop_front();
    return a;
  }
  void Answer(long status, std::string body = "") {
    http::HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    answers.push_back(std::move(r));
  }
  std::deque<Result<http::HttpResponse>> answers;
  std::vector<http::HttpRequest> requests;
};

constexpr char kConfig[] = R"(
[torizon]
url = "https://ras.example/ras/"
server_cert_path = "ca.pem"
client_cert_path = "c.pem"
client_key_path = "k.pem"
[device]
ssh_private_key_path = "key"
[device.session.embedded]
)";

constexpr char kSessionJson[] =
    R"({"ssh":{"authorized_pubkeys":[],"reverse_port":41022,)"
    R"("ra_server_url":"ssh://u@h:2222","ra_server_ssh_pubkey":"x",)"
    R"("expires_at":"2030-01-01T00:00:00Z","extra":1}})";

class ServerApiTest : public ::testing::Test {
 protected:
  ServerApiTest()
      : config_(config::ParseAgentConfig(kConfig, "agent.toml").value()) {
    auto fake = std::make_unique<FakeHttp>();
    http_ = fake.get();
    api_ = std::make_unique<ServerApi>(config_, std::move(fake));
  }
  config::AgentConfig config_;
  FakeHttp* http_;
  std::unique_ptr<ServerApi> api_;
};

TEST_F(ServerApiTest, RegisterKeyPostsTheLineAsJson) {
  http_->Answer(201);
  ASSERT_TRUE(api_->RegisterKey("ssh-ed25519 AAAA dev \"x\"").ok());
  ASSERT_EQ(http_->requests.size(), 1u);
  EXPECT_EQ(http_->requests[0].method, "POST");
  EXPECT_EQ(http_->requests[0].url, "https://ras.example/ras/public-keys");
  EXPECT_EQ(http_->requests[0].body, R"({"key":"ssh-ed25519 AAAA dev \"x\""})");
}

TEST_F(ServerApiTest, RegisterKeyFailureNamesTheStatusAndBody) {
  http_->Answer(503, "down for maintenance\nsecond line");
  Status s = api_->RegisterKey("k");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(),
            "POST https://ras.example/ras/public-keys: HTTP 503: down for "
            "maintenance");
}

TEST_F(ServerApiTest, SessionStatusCodes) {
  http_->Answer(404, "no session");
  auto none = api_->GetSession();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  http_->Answer(200, kSessionJson);
  auto some = api_->GetSession();
  ASSERT_TRUE(some.ok()) << some.status().message();
  ASSERT_TRUE(some->has_value());
  EXPECT_EQ((*some)->reverse_port, 41022);
  EXPECT_EQ(http_->requests.back().url, "https://ras.example/ras/sessions");

  http_->Answer(500);
  EXPECT_EQ(api_->GetSession().status().code(), StatusCode::kUnavailable);
  http_->Answer(403, "\x01\x02 binary");
  EXPECT_EQ(api_->GetSession().status().message(),
            "GET https://ras.example/ras/sessions: HTTP 403: ?? binary");
  http_->Answer(200, "<html>proxy error</html>");
  auto bad = api_->GetSession();
  EXPECT_EQ(bad.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(bad.status().message().find("bad session"), std::string::npos);
  EXPECT_EQ(api_->GetSession().status().code(), StatusCode::kUnavailable);
}

TEST_F(ServerApiTest, DirectorFetchMapsStatusesForTheLoader) {
  using Kind = tuf::FetchResult::Kind;
  http_->Answer(200, "{}");
  EXPECT_EQ(api_->director()->Fetch("root.json", 100).kind, Kind::kFound);
  EXPECT_EQ(http_->requests.back().url,
            "https://ras.example/director/root.json");
  http_->Answer(404);
  EXPECT_EQ(api_->director()->Fetch("2.root.json", 100).kind, Kind::kNotFound);
  http_->Answer(424);
  EXPECT_EQ(api_->director()->Fetch("2.root.json", 100).kind, Kind::kNotFound);
  // Anything else fails the load (fail closed, RAC bug 10).
  http_->Answer(502);
  auto failed = api_->director()->Fetch("2.root.json", 100);
  EXPECT_EQ(failed.kind, Kind::kError);
  EXPECT_NE(failed.reason.find("HTTP 502"), std::string::npos);
  http_->answers.push_back(Status::Corrupt("body larger than 1048576 bytes"));
  EXPECT_EQ(api_->director()->Fetch("remote-sessions.json", 100).kind,
            Kind::kTooLarge);
  http_->Answer(200, std::string(101, 'x'));
  EXPECT_EQ(api_->director()->Fetch("remote-sessions.json", 100).kind,
            Kind::kTooLarge);
  EXPECT_EQ(api_->director()->Fetch("remote-sessions.json", 100).kind,
            Kind::kError);  // transport failure
}

TEST_F(ServerApiTest, LongPollAndCancelDescriptors) {
  ExtensionState ext;
  http::HttpResponse announce;
  announce.status = 404;
  announce.headers = {{"x-porthole-extensions", "long-poll=55, host-keys"},
                      {"etag", "\"e1\""}};
  ext.Update(announce);
  LongPoll poll(&ext, config::Duration::Seconds(25),
                std::chrono::milliseconds(10000));
  api_->SetCancelFds({7});
  http_->answers.push_back(announce);
  auto none = api_->GetSession({.long_poll = &poll, .cancel_fds = {9}});
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(http_->requests.back().url,
            "https://ras.example/ras/sessions?wait=25");
  EXPECT_EQ(http_->requests.back().timeout, std::chrono::milliseconds(35000));
  EXPECT_EQ(http_->requests.back().cancel_fds, (std::vector<int>{7, 9}));
  EXPECT_EQ(poll.tag(), "e1");

  http_->Answer(503, "busy");
  auto failed =
      api_->GetSession({.long_poll = &poll, .cap = std::chrono::seconds(3)});
  EXPECT_EQ(http_->requests.back().url,
            "https://ras.example/ras/sessions?wait=3&seen=e1");
  // Messages name the resource without the query.
  EXPECT_EQ(failed.status().message(),
            "GET https://ras.example/ras/sessions: HTTP 503: busy");
  EXPECT_EQ(poll.tag(), "");

  // Every request carries the object's cancel descriptors.
  http_->Answer(200, "{}");
  api_->director()->Fetch("root.json", 100);
  EXPECT_EQ(http_->requests.back().cancel_fds, std::vector<int>{7});
}

TEST_F(ServerApiTest, PostHostKeys) {
  http_->Answer(204);
  ASSERT_TRUE(api_->PostHostKeys({"ssh-ed25519 AAAA porthole-agent"}).ok());
  EXPECT_EQ(http_->requests.back().method, "POST");
  EXPECT_EQ(http_->requests.back().url, "https://ras.example/ras/host-keys");
  EXPECT_EQ(http_->requests.back().body,
            R"({"keys":["ssh-ed25519 AAAA porthole-agent"]})");
  http_->Answer(400, R"({"code":"invalid_host_keys","description":"x"})");
  EXPECT_EQ(api_->PostHostKeys({"x"}).message(),
            "POST https://ras.example/ras/host-keys: HTTP 400: "
            R"({"code":"invalid_host_keys","description":"x"})");
}

}  // namespace
}  // namespace porthole::agent
