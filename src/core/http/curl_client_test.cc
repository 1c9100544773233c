#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/base/unique_fd.h"
#include "core/crypto/digest.h"
#include "core/crypto/signature.h"
#include "core/http/http_client.h"

namespace porthole::http {
namespace {

using std::chrono::milliseconds;

// A real HTTPS server (tests/tools/tls_server.py) with a fresh PKI
// (tests/tools/mkcerts.sh), requiring client certificates.
class CurlClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string tools = std::string(PORTHOLE_SOURCE_DIR) + "/tests/tools";
    auto made = RunProcess({"bash", tools + "/mkcerts.sh", dir_.path()});
    ASSERT_TRUE(made.ok() && made->success()) << "mkcerts.sh failed";
    ChildProcess::Options o;
    o.pipe_stdout = true;
    auto server = ChildProcess::Start(
        {"python3", tools + "/tls_server.py", "--cert", Cert("server.crt"),
         "--key", Cert("server.key"), "--ca", Cert("ca.crt")},
        o);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::make_unique<ChildProcess>(std::move(server).value());
    auto port = server_->ReadLine(milliseconds(10000));
    ASSERT_TRUE(port.ok()) << "tls_server.py did not start: "
                           << port.status().message();
    base_ = "https://localhost:" + *port;
  }

  std::string Cert(const std::string& name) const { return dir_.Join(name); }

  TlsClientConfig Config() const {
    TlsClientConfig c;
    c.ca_file = Cert("ca.crt");
    c.cert_file = Cert("client.crt");
    c.key_file = Cert("client.key");
    c.user_agent = "porthole-test/1";
    c.timeout = milliseconds(5000);
    return c;
  }

  std::unique_ptr<HttpClient> Client(const TlsClientConfig& c) {
    auto client = MakeCurlHttpClient(c);
    EXPECT_TRUE(client.ok()) << client.status().message();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> server_;
  std::string base_;
};

TEST_F(CurlClientTest, GetWithClientCertificateAndHeaders) {
  TlsClientConfig c = Config();
  c.ats_namespace = "8d1a5d5c-5e1b-4b45-a0a8-2cd5b4a1c0de";
  auto client = Client(c);
  ASSERT_TRUE(client);
  auto r = client->Send({.method = "GET", .url = base_ + "/echo"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["client_cn"], "device-0001");
  EXPECT_EQ(j["headers"]["user-agent"], "porthole-test/1");
  EXPECT_EQ(j["headers"]["x-ats-namespace"], c.ats_namespace);
  EXPECT_EQ(j["headers"]["accept"], "*/*");
}

TEST_F(CurlClientTest, MaterialInMemoryNeedsNoFiles) {
  TlsClientConfig c = Config();
  ASSERT_TRUE(c.LoadFiles().ok());
  // What an agent does after dropping privileges: the files are gone (or
  // unreadable), the PEMs in memory still make working clients.
  c.ca_file = dir_.Join("gone-ca.crt");
  c.cert_file = dir_.Join("gone-client.crt");
  c.key_file = dir_.Join("gone-client.key");
  auto client = Client(c);
  ASSERT_TRUE(client);
  auto r = client->Send({.method = "GET", .url = base_ + "/echo"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(nlohmann::json::parse(r->body)["client_cn"], "device-0001");
}

TEST(CurlClientSetupTest, LoadFilesNamesAMissingFile) {
  TlsClientConfig c;
  c.ca_file = "/nonexistent/ca.crt";
  Status s = c.LoadFiles();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/ca.crt"), std::string::npos);
}

TEST_F(CurlClientTest, PostJsonAndKeepAlive) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {  // the same handle, reused
    auto r = client->Send(
        {.method = "POST", .url = base_ + "/echo", .body = "{\"key\":1}"});
    ASSERT_TRUE(r.ok()) << r.status().message();
    auto j = nlohmann::json::parse(r->body);
    EXPECT_EQ(j["method"], "POST");
    EXPECT_EQ(j["body"], "{\"key\":1}");
    EXPECT_EQ(j["headers"]["content-type"], "application/json");
  }
}

TEST_F(CurlClientTest, StatusCodesAreResponsesNotErrors) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  for (long code : {404L, 424L, 500L}) {
    auto r = client->Send({.url = base_ + "/status/" + std::to_string(code)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, code);
  }
}

TEST_F(CurlClientTest, BodyCap) {
  TlsClientConfig c = Config();
  c.max_body = 1000;
  auto client = Client(c);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->Send({.url = base_ + "/bytes/1000"}).ok());
  auto r = client->Send({.url = base_ + "/bytes/1001"});
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_EQ(r.status().message(), "GET " + base_ +
                                      "/bytes/1001: response body larger "
                                      "than 1000 bytes");
}

TEST_F(CurlClientTest, Timeout) {
  TlsClientConfig c = Config();
  c.timeout = milliseconds(300);
  auto client = Client(c);
  ASSERT_TRUE(client);
  auto start = std::chrono::steady_clock::now();
  auto r = client->Send({.url = base_ + "/slow/3000"});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2500));
  // A per-request timeout (long poll) overrides the client's.
  auto late =
      client->Send({.url = base_ + "/slow/500", .timeout = milliseconds(5000)});
  ASSERT_TRUE(late.ok()) << late.status().message();
  EXPECT_EQ(late->body, "late");
}

TEST_F(CurlClientTest, CancelFdsStopARequest) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  UniqueFd idle(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  UniqueFd cancel(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  ASSERT_TRUE(idle.valid() && cancel.valid());
  // A descriptor that stays quiet changes nothing.
  auto r = client->Send(
      {.url = base_ + "/slow/200", .cancel_fds = {idle.get(), cancel.get()}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "late");
  // One that becomes readable ends a long request at once.
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    uint64_t one = 1;
    ASSERT_EQ(write(cancel.get(), &one, sizeof one), 8);
  });
  auto start = std::chrono::steady_clock::now();
  r = client->Send(
      {.url = base_ + "/slow/4000", .cancel_fds = {idle.get(), cancel.get()}});
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "GET " + base_ + "/slow/4000: cancelled");
  // Already readable: nothing is sent.
  r = client->Send({.url = base_ + "/echo", .cancel_fds = {cancel.get()}});
  EXPECT_EQ(r.status().message(), "GET " + base_ + "/echo: cancelled");
  // The client still works afterwards.
  r = client->Send({.url = base_ + "/slow/10"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, "late");
}

TEST_F(CurlClientTest, WrongServerCaIsRefused) {
  TlsClientConfig c = Config();
  c.ca_file = Cert("rogue-ca.crt");  // does not sign the server
  auto client = Client(c);
  ASSERT_TRUE(client);
  auto r = client->Send({.url = base_ + "/echo"});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST_F(CurlClientTest, HostnameIsVerified) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  // The certificate names localhost and 127.0.0.1, not 127.0.0.2.
  std::string port = base_.substr(base_.rfind(':'));
  auto ok = client->Send({.url = "https://127.0.0.1" + port + "/echo"});
  EXPECT_TRUE(ok.ok()) << ok.status().message();
  auto r = client->Send({.url = "https://127.0.0.2" + port + "/echo"});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
}

TEST_F(CurlClientTest, ServerRefusesForeignOrMissingClientCertificate) {
  TlsClientConfig rogue = Config();
  rogue.cert_file = Cert("rogue.crt");
  rogue.key_file = Cert("rogue.key");
  auto client = Client(rogue);
  ASSERT_TRUE(client);
  EXPECT_EQ(client->Send({.url = base_ + "/echo"}).status().code(),
            StatusCode::kUnavailable);
  TlsClientConfig none = Config();
  none.cert_file.clear();
  none.key_file.clear();
  auto anonymous = Client(none);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->Send({.url = base_ + "/echo"}).status().code(),
            StatusCode::kUnavailable);
}

TEST_F(CurlClientTest, PlainHttpOnlyWhenAllowed) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  auto r = client->Send({.url = "http://127.0.0.1:1/echo"});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("http"), std::string::npos);
}

TEST_F(CurlClientTest, ExtraHeadersAndDelete) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  HttpRequest del{.method = "DELETE", .url = base_ + "/echo"};
  del.headers = {{"Authorization", "Bearer tok-1"}};
  auto r = client->Send(del);
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["method"], "DELETE");
  EXPECT_EQ(j["headers"]["authorization"], "Bearer tok-1");
  // The same handle goes back to GET and POST after a DELETE.
  auto get = client->Send({.url = base_ + "/echo"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(nlohmann::json::parse(get->body)["method"], "GET");
  EXPECT_FALSE(
      nlohmann::json::parse(get->body)["headers"].contains("authorization"));
  auto post = client->Send({.method = "POST", .url = base_ + "/echo"});
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(nlohmann::json::parse(post->body)["method"], "POST");
}

TEST_F(CurlClientTest, HeaderInjectionIsRefusedBeforeSending) {
  auto client = Client(Config());
  ASSERT_TRUE(client);
  const std::pair<std::string, std::string> bad[] = {
      {"Authorization", "Bearer x\r\nX-Evil: 1"},
      {"Authorization", std::string("Bearer x\0y", 10)},
      {"Bad Name", "v"},
      {"", "v"},
      {"X:Y", "v"},
  };
  for (const auto& h : bad) {
    HttpRequest req{.url = base_ + "/echo"};
    req.headers = {h};
    auto r = client->Send(req);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << h.first;
  }
  HttpRequest put{.method = "PUT", .url = base_ + "/echo"};
  EXPECT_EQ(client->Send(put).status().code(), StatusCode::kInvalidArgument);
}

// The operator's case: no client certificate, the CA given as PEM in
// memory, and the server sending its chain (its certificate, then the CA).
class ChainServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string tools = std::string(PORTHOLE_SOURCE_DIR) + "/tests/tools";
    auto made = RunProcess({"bash", tools + "/mkcerts.sh", dir_.path()});
    ASSERT_TRUE(made.ok() && made->success()) << "mkcerts.sh failed";
    auto server_pem = ReadFile(dir_.Join("server.crt"), 1 << 20);
    auto ca_pem = ReadFile(dir_.Join("ca.crt"), 1 << 20);
    ASSERT_TRUE(server_pem.ok() && ca_pem.ok());
    ca_pem_ = *ca_pem;
    server_pem_ = *server_pem;
    ASSERT_TRUE(
        AtomicReplace(dir_.Join("chain.pem"), *server_pem + *ca_pem).ok());
    ChildProcess::Options o;
    o.pipe_stdout = true;
    auto server = ChildProcess::Start(
        {"python3", tools + "/tls_server.py", "--cert", dir_.Join("chain.pem"),
         "--key", dir_.Join("server.key")},
        o);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::make_unique<ChildProcess>(std::move(server).value());
    auto port = server_->ReadLine(milliseconds(10000));
    ASSERT_TRUE(port.ok()) << "tls_server.py did not start";
    port_ = *port;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> server_;
  std::string port_, ca_pem_, server_pem_;
};

TEST_F(ChainServerTest, PeerCertificatesAreTheChainAsSent) {
  auto certs = FetchPeerCertificates("https://127.0.0.1:" + port_ + "/x",
                                     milliseconds(5000));
  ASSERT_TRUE(certs.ok()) << certs.status().message();
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ((*certs)[0], *crypto::PemDecode(server_pem_, "CERTIFICATE"));
  EXPECT_EQ((*certs)[1], *crypto::PemDecode(ca_pem_, "CERTIFICATE"));
}

TEST_F(ChainServerTest, PeerCertificatesFailClosedWhenNobodyAnswers) {
  auto r = FetchPeerCertificates("https://127.0.0.1:1/", milliseconds(2000));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(
      FetchPeerCertificates("http://127.0.0.1:" + port_, milliseconds(100))
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

TEST_F(ChainServerTest, CaInMemoryWithoutClientCertificate) {
  TlsClientConfig c;
  c.ca_pem = ca_pem_;
  auto client = MakeCurlHttpClient(c);
  ASSERT_TRUE(client.ok());
  auto r = (*client)->Send({.url = "https://localhost:" + port_ + "/echo"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(nlohmann::json::parse(r->body)["client_cn"].is_null());
  // No CA at all: nothing is trusted (no system roots).
  auto none = MakeCurlHttpClient(TlsClientConfig{});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)
                ->Send({.url = "https://localhost:" + port_ + "/echo"})
                .status()
                .code(),
            StatusCode::kUnavailable);
}

TEST(CurlClientSetupTest, MissingFileIsNamed) {
  TlsClientConfig c;
  c.ca_file = "/nonexistent/root.crt";
  auto client = MakeCurlHttpClient(c);
  EXPECT_EQ(client.status().message(),
            "/nonexistent/root.crt: No such file or directory");
}

}  // namespace
}  // namespace porthole::http
