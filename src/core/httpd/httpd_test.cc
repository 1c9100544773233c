// HttpsServer with real TLS: a fresh PKI (tests/tools/mkcerts.sh and
// mkcerts_extra.sh), libcurl through core/http, the curl command line, and
// TestClient for clients that misbehave on purpose.
#include "core/httpd/httpd.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/base/file.h"
#include "core/base/subprocess.h"
#include "core/base/test_util.h"
#include "core/http/http_client.h"
#include "core/httpd/test_client.h"

namespace porthole::httpd {
namespace {

using std::chrono::milliseconds;
using json = nlohmann::json;

// A thread-safe queue to hand things (Responders) from server threads to the
// test.
template <typename T>
class Mailbox {
 public:
  void Push(T v) {
    std::lock_guard<std::mutex> l(mu_);
    items_.push_back(std::move(v));
    cv_.notify_all();
  }
  std::optional<T> Pop(milliseconds timeout = milliseconds(10000)) {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, timeout, [&] { return !items_.empty(); })) {
      return std::nullopt;
    }
    T v = std::move(items_.front());
    items_.pop_front();
    return v;
  }
  size_t size() {
    std::lock_guard<std::mutex> l(mu_);
    return items_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
};

// Collects log lines so tests can check what the server said.
class LogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> l(mutex_);
    return lines_;
  }
  size_t Count(std::string_view needle) {
    auto lines = Lines();
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& s) {
      return s.find(needle) != std::string::npos;
    });
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

// Polls `pred` until it holds or 10 s pass (for effects that happen on the
// server's threads after the client already saw its result).
template <typename Pred>
bool WaitFor(Pred pred, milliseconds timeout = milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class HttpsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new TempDir;
    const std::string tools = std::string(PORTHOLE_SOURCE_DIR) + "/tests/tools";
    for (const char* script : {"/mkcerts.sh", "/mkcerts_extra.sh"}) {
      auto made = RunProcess({"bash", tools + script, pki_->path()});
      ASSERT_TRUE(made.ok() && made->success()) << script << " failed";
    }
  }
  static void TearDownTestSuite() {
    delete pki_;
    pki_ = nullptr;
  }

  void SetUp() override {
    sink_ = std::make_shared<LogSink>();
    previous_logger_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("httpd_test", sink_);
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    server_.reset();
    spdlog::set_default_logger(previous_logger_);
  }

  static std::string File(const std::string& name) { return pki_->Join(name); }
  std::string AllLines() {
    std::string all;
    for (const std::string& line : sink_->Lines()) all += line + "\n";
    return all;
  }
  static std::string Pem(const std::string& name) {
    auto pem = ReadFile(File(name), 1 << 20, true);
    EXPECT_TRUE(pem.ok()) << name;
    return pem.ok() ? *pem : "";
  }

  // A device API: mutual TLS with the test CA.
  static HttpsServer::Options DeviceOptions() {
    HttpsServer::Options o;
    o.name = "device_api";
    o.threads = 2;
    o.cert_chain_pem = Pem("server.crt");
    o.key_pem = Pem("server.key");
    o.client_ca_pem = Pem("ca.crt");
    o.refusal_log_interval = milliseconds(0);  // every line, to check them
    return o;
  }
  static HttpsServer::Options OperatorOptions() {
    HttpsServer::Options o = DeviceOptions();
    o.name = "operator_api";
    o.client_ca_pem.clear();
    return o;
  }

  // Answers with what it saw; /drop drops the Responder; /poll hands it to
  // the test (polls_); /throw throws; /bad answers with a forbidden header;
  // /huge answers 32 MiB.
  Handler EchoHandler() {
    return [this](Request&& r, Responder responder) {
      if (r.path == "/poll") {
        polls_.Push(std::move(responder));
        return;
      }
      if (r.path == "/drop") return;
      if (r.path == "/throw") throw std::runtime_error("boom");
      if (r.path == "/bad") {
        Response bad;
        bad.headers.emplace_back("X-Split", "a\r\nInjected: yes");
        responder.Respond(std::move(bad));
        return;
      }
      if (r.path == "/huge") {
        Response big;
        big.body.assign(32 << 20, 'x');
        responder.Respond(std::move(big));
        return;
      }
      json j;
      j["method"] = r.method;
      j["path"] = r.path;
      j["query"] = json::object();
      for (const auto& [k, v] : r.query) j["query"][k] = v;
      j["body_size"] = r.body.size();
      j["peer"] = r.peer;
      j["version"] = r.version;
      if (const std::string* ua = r.Header("user-agent")) j["user_agent"] = *ua;
      if (r.client_certificate) {
        j["cn"] = r.client_certificate->subject_cn;
        j["sha256"] = r.client_certificate->sha256_hex;
        j["serial"] = r.client_certificate->serial_hex;
        std::lock_guard<std::mutex> l(mu_);
        certificates_seen_.push_back(r.client_certificate.get());
      } else {
        j["cn"] = nullptr;
      }
      responder.Respond(Response::Json(200, j.dump()));
    };
  }

  void Start(HttpsServer::Options o, Handler h = nullptr) {
    auto s = HttpsServer::Start(std::move(o), h ? std::move(h) : EchoHandler());
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    base_ = "https://localhost:" + std::to_string(server_->port());
  }

  static http::TlsClientConfig CurlConfig(const std::string& cert) {
    http::TlsClientConfig c;
    c.ca_file = File("ca.crt");
    if (!cert.empty()) {
      c.cert_file = File(cert + ".crt");
      c.key_file = File(cert + ".key");
    }
    c.user_agent = "httpd-test/1";
    c.timeout = milliseconds(10000);
    c.max_body = 64 << 20;
    return c;
  }
  static std::unique_ptr<http::HttpClient> Curl(
      const std::string& cert = "client") {
    auto c = http::MakeCurlHttpClient(CurlConfig(cert));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // A TLS client, handshake done.
  std::unique_ptr<TestClient> Raw(const std::string& cert = "client") {
    auto c = std::make_unique<TestClient>(
        File("ca.crt"), cert.empty() ? "" : File(cert + ".crt"),
        cert.empty() ? "" : File(cert + ".key"));
    Status s = c->Connect(server_->port());
    EXPECT_TRUE(s.ok()) << s.message();
    s = c->Handshake();
    EXPECT_TRUE(s.ok()) << s.message();
    return c;
  }

  // GET `path` with libcurl; the status, or -1 on a transport failure.
  long Get(http::HttpClient& c, const std::string& path,
           std::string* body = nullptr) {
    auto r = c.Send({.method = "GET", .url = base_ + path});
    if (!r.ok()) return -1;
    if (body != nullptr) *body = r->body;
    return r->status;
  }

  // An openssl command-line field of a test certificate, normalised like
  // PeerCertificate (lower-case hex without colons).
  static std::string OpensslField(const std::string& cert,
                                  std::vector<std::string> flags) {
    std::vector<std::string> argv = {"openssl", "x509", "-in", File(cert),
                                     "-noout"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto r = RunProcess(argv);
    EXPECT_TRUE(r.ok() && r->success());
    std::string out = r.ok() ? r->out : "";
    out = out.substr(out.find('=') + 1);
    std::string clean;
    for (char c : out) {
      if (c != ':' && c != '\n') clean += static_cast<char>(std::tolower(c));
    }
    return clean;
  }

  static TempDir* pki_;
  std::shared_ptr<LogSink> sink_;
  std::shared_ptr<spdlog::logger> previous_logger_;
  std::unique_ptr<HttpsServer> server_;
  std::string base_;
  Mailbox<Responder> polls_;
  std::mutex mu_;
  std::vector<const ClientCertificate*> certificates_seen_;
};

TempDir* HttpsServerTest::pki_ = nullptr;

// ---- Mutual TLS
// --------------------------------------------------------------

TEST_F(HttpsServerTest, ClientCertificateReachesTheHandler) {
  Start(DeviceOptions());
  auto curl = Curl();
  std::string body;
  ASSERT_EQ(Get(*curl, "/ras/sessions?wait=25", &body), 200);
  json j = json::parse(body);
  EXPECT_EQ(j["cn"], "device-0001");
  EXPECT_EQ(j["sha256"],
            OpensslField("client.crt", {"-fingerprint", "-sha256"}));
  std::string serial = OpensslField("client.crt", {"-serial"});
  serial.erase(0, std::min(serial.find_first_not_of('0'), serial.size()));
  EXPECT_EQ(j["serial"], serial);
  EXPECT_EQ(j["path"], "/ras/sessions");
  EXPECT_EQ(j["query"]["wait"], "25");
  EXPECT_EQ(j["user_agent"], "httpd-test/1");
  EXPECT_EQ(j["peer"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  // The certificate is read once per connection and shared by its requests.
  ASSERT_EQ(Get(*curl, "/again"), 200);
  std::lock_guard<std::mutex> l(mu_);
  ASSERT_EQ(certificates_seen_.size(), 2u);
  EXPECT_EQ(certificates_seen_[0], certificates_seen_[1]);
}

TEST_F(HttpsServerTest, RefusedClientCertificates) {
  Start(DeviceOptions());
  struct Case {
    std::string cert;  // empty: none
    std::string logged;
  };
  const Case cases[] = {
      {"", "peer did not return a certificate"},
      {"rogue",
       "certificate verify failed: unable to get local issuer "
       "certificate"},
      {"expired", "certificate verify failed: certificate has expired"},
      // Signed by the right CA, but for servers only (EKU serverAuth).
      {"server", "certificate verify failed: unsuitable certificate purpose"},
      // Verified, but an ambiguous identity.
      {"twocn", "client certificate: subject has more than one commonName"},
  };
  uint64_t failures = 0;
  for (const Case& c : cases) {
    auto curl = Curl(c.cert);
    EXPECT_EQ(Get(*curl, "/x"), -1) << c.cert;
    ++failures;
    EXPECT_TRUE(WaitFor([&] {
      return server_->counters().handshake_failures == failures;
    })) << c.cert;
    EXPECT_TRUE(WaitFor([&] { return sink_->Count(c.logged) == 1; }))
        << c.cert << ": " << c.logged << "\nlog:\n"
        << AllLines();
  }
  // Each line names the listener and the peer.
  for (const std::string& line : sink_->Lines()) {
    if (line.find("TLS handshake failed") == std::string::npos) continue;
    EXPECT_EQ(line.rfind("device_api: 127.0.0.1:", 0), 0u) << line;
  }
  EXPECT_EQ(server_->counters().requests, 0u);
  // And the good certificate still works.
  EXPECT_EQ(Get(*Curl(), "/x"), 200);
}

TEST_F(HttpsServerTest, OperatorModeAsksForNoCertificate) {
  Start(OperatorOptions());
  for (std::string cert : {"", "client"}) {
    std::string body;
    ASSERT_EQ(Get(*Curl(cert), "/v1/sessions", &body), 200) << cert;
    EXPECT_TRUE(json::parse(body)["cn"].is_null());
  }
}

TEST_F(HttpsServerTest, BadTlsMaterialIsNamed) {
  HttpsServer::Options o = DeviceOptions();
  o.key_pem = Pem("client.key");
  auto s = HttpsServer::Start(o, EchoHandler());
  EXPECT_EQ(s.status().message(),
            "TLS private key does not match the certificate");
  o = DeviceOptions();
  o.client_ca_pem = "not a certificate";
  s = HttpsServer::Start(o, EchoHandler());
  EXPECT_EQ(s.status().message(), "TLS client CA: no CERTIFICATE in PEM");
  o = DeviceOptions();
  o.listen_address = "localhost";
  s = HttpsServer::Start(o, EchoHandler());
  EXPECT_EQ(s.status().message(),
            "httpd option listen_address 'localhost': not an IP address");
}

TEST_F(HttpsServerTest, PortInUse) {
  Start(DeviceOptions());
  HttpsServer::Options o = DeviceOptions();
  o.port = server_->port();
  auto s = HttpsServer::Start(o, EchoHandler());
  EXPECT_EQ(s.status().code(), StatusCode::kIoError);
  EXPECT_EQ(s.status().message(), "listen 127.0.0.1:" + std::to_string(o.port) +
                                      ": Address already in use");
}

// ---- Keep-alive and long polls ----------------------------------------------

TEST_F(HttpsServerTest, KeepAliveReusesOneConnection) {
  Start(DeviceOptions());
  auto curl = Curl();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(Get(*curl, "/ras/sessions"), 200);
  Counters c = server_->counters();
  EXPECT_EQ(c.connections_accepted, 1u);
  EXPECT_EQ(c.requests, 200u);
  EXPECT_EQ(c.responses_by_class[2], 200u);
  EXPECT_EQ(c.connections_open, 1u);
}

TEST_F(HttpsServerTest, LongPollAnsweredLaterFromAnotherThread) {
  Start(DeviceOptions());
  auto curl = Curl();
  auto reply = std::async(std::launch::async, [&] {
    return curl->Send({.method = "GET", .url = base_ + "/poll"});
  });
  std::optional<Responder> r = polls_.Pop();
  ASSERT_TRUE(r.has_value());
  // Held: the client has no answer yet.
  EXPECT_EQ(reply.wait_for(milliseconds(300)), std::future_status::timeout);
  std::thread([&] {
    Response resp = Response::Json(200, "{\"late\":true}");
    resp.headers.emplace_back("ETag", "\"3f1c0b8e2a474b3e\"");
    r->Respond(std::move(resp));
  }).join();
  auto got = reply.get();
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "{\"late\":true}");
  EXPECT_EQ(got->Header("etag"), "\"3f1c0b8e2a474b3e\"");
  // A second Respond() is ignored; the connection serves on.
  r->Respond(Response::Json(500, "{}"));
  EXPECT_EQ(Get(*curl, "/next"), 200);
  EXPECT_EQ(server_->counters().connections_accepted, 1u);
}

TEST_F(HttpsServerTest, LongPollAnsweredByATimer) {
  std::mutex mu;
  std::vector<TimerHandle> timers;  // a long-poll waiter list, reduced
  Start(DeviceOptions(), [&](Request&&, Responder responder) {
    auto shared = std::make_shared<Responder>(std::move(responder));
    TimerHandle t = server_->RunAfter(milliseconds(200), [shared] {
      shared->Respond(Response::Json(404, "{\"code\":\"none\"}"));
    });
    std::lock_guard<std::mutex> l(mu);
    timers.push_back(std::move(t));
  });
  auto start = std::chrono::steady_clock::now();
  std::string body;
  EXPECT_EQ(Get(*Curl(), "/ras/sessions?wait=1", &body), 404);
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(200));
  EXPECT_EQ(body, "{\"code\":\"none\"}");
  server_->Stop();
}

TEST_F(HttpsServerTest, ClientGoneDuringLongPollFreesTheWaiter) {
  Start(DeviceOptions());
  Mailbox<int> cancelled;
  auto client = Raw();
  ASSERT_TRUE(client->Send("GET /poll HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  std::optional<Responder> r = polls_.Pop();
  ASSERT_TRUE(r.has_value());
  r->OnCancel([&] { cancelled.Push(1); });
  EXPECT_FALSE(r->cancelled());
  client->Close();
  ASSERT_TRUE(cancelled.Pop().has_value()) << "OnCancel did not run";
  EXPECT_TRUE(r->cancelled());
  // Registered after the fact: runs at once, on this thread.
  bool late = false;
  r->OnCancel([&] { late = true; });
  EXPECT_TRUE(late);
  r->Respond(Response::Json(200, "{}"));  // a no-op now
  EXPECT_TRUE(
      WaitFor([&] { return server_->counters().connections_open == 0; }));
  Counters c = server_->counters();
  EXPECT_EQ(c.cancelled, 1u);
  EXPECT_EQ(c.responses_by_class[2], 0u);
  EXPECT_EQ(Get(*Curl(), "/still-serving"), 200);
}

TEST_F(HttpsServerTest, DroppedResponderAnswers500) {
  Start(DeviceOptions());
  auto curl = Curl();
  std::string body;
  EXPECT_EQ(Get(*curl, "/drop", &body), 500);
  EXPECT_EQ(json::parse(body)["code"], "internal_error");
  EXPECT_EQ(Get(*curl, "/throw", &body), 500);
  EXPECT_TRUE(
      WaitFor([&] { return sink_->Count("handler threw: boom") == 1; }));
  EXPECT_EQ(Get(*curl, "/bad", &body), 500);
  EXPECT_EQ(body.find("Injected"), std::string::npos);
  EXPECT_EQ(sink_->Count("handler response refused: header X-Split has CR, LF "
                         "or NUL in its value"),
            1u);
  EXPECT_EQ(Get(*curl, "/fine"), 200);
}

TEST_F(HttpsServerTest, ThrowingCallbacksAreLoggedAndTheServerGoesOn) {
  HttpsServer::Options o = DeviceOptions();
  o.header_timeout = milliseconds(300);
  o.body_limit = [](std::string_view, std::string_view path) -> size_t {
    if (path == "/boom") throw std::runtime_error("no limit for you");
    return 1024;
  };
  Start(o);
  server_->Post([] { throw std::runtime_error("posted"); });
  EXPECT_TRUE(
      WaitFor([&] { return sink_->Count("a callback threw: posted"); }));
  auto client = Raw();
  ASSERT_TRUE(client->Send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(sink_->Count("a callback threw: no limit for you"), 1u);
  EXPECT_EQ(Get(*Curl(), "/fine"), 200);
}

TEST_F(HttpsServerTest, PipelinedRequestsAnsweredInOrder) {
  Start(DeviceOptions());
  auto client = Raw();
  ASSERT_TRUE(client
                  ->Send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /two HTTP/1.1\r\nHost: x\r\n\r\n")
                  .ok());
  for (std::string path : {"/one", "/two"}) {
    auto r = client->ReadResponse();
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(json::parse(r->body)["path"], path);
  }
}

TEST_F(HttpsServerTest, HeadAndHttp10) {
  Start(DeviceOptions());
  auto client = Raw();
  ASSERT_TRUE(client->Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_GT(std::stoul(r->headers["content-length"]), 0u);
  // No body followed: the next response parses from the first byte.
  ASSERT_TRUE(client->Send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(json::parse(r->body)["path"], "/after");
  EXPECT_FALSE(r->headers.count("connection"));

  auto old = Raw();
  ASSERT_TRUE(old->Send("GET /ten HTTP/1.0\r\n\r\n").ok());
  r = old->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(json::parse(r->body)["version"], 10);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(old->WaitClosed());
}

// ---- Limits
// -------------------------------------------------------------------

TEST_F(HttpsServerTest, OversizedHeaderIs431) {
  Start(DeviceOptions());
  auto client = Raw();
  ASSERT_TRUE(client
                  ->Send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " +
                         std::string(9000, 'a') + "\r\n\r\n")
                  .ok());
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_EQ(json::parse(r->body)["code"], "request_header_fields_too_large");
  EXPECT_TRUE(client->WaitClosed());
  EXPECT_EQ(server_->counters().limit_refusals, 1u);
  EXPECT_EQ(sink_->Count("431 request header larger than 8192 bytes"), 1u);
}

TEST_F(HttpsServerTest, OversizedBodyIs413AndRoutesCanRaiseTheLimit) {
  HttpsServer::Options o = DeviceOptions();
  o.body_limit = [](std::string_view method, std::string_view path) {
    return method == "POST" && path == "/big" ? size_t{2 << 20}
                                              : size_t{64 << 10};
  };
  Start(o);
  auto curl = Curl();
  std::string big(1 << 20, 'x');
  auto r = curl->Send({.method = "POST", .url = base_ + "/small", .body = big});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(json::parse(r->body)["description"],
            "request body larger than 65536 bytes");
  // Exactly at the limit is fine.
  r = Curl()->Send({.method = "POST",
                    .url = base_ + "/small",
                    .body = std::string(64 << 10, 'y')});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  r = Curl()->Send({.method = "POST", .url = base_ + "/big", .body = big});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["body_size"], 1 << 20);
  // Chunked bodies count too.
  auto client = Raw();
  ASSERT_TRUE(client
                  ->Send("POST /small HTTP/1.1\r\nHost: x\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n10000\r\n" +
                         std::string(0x10000, 'z') + "\r\n1\r\nz\r\n0\r\n\r\n")
                  .ok());
  auto resp = client->ReadResponse();
  ASSERT_TRUE(resp.ok()) << resp.status().message();
  EXPECT_EQ(resp->status, 413);
}

TEST_F(HttpsServerTest, ExpectContinueWithCurl) {
  HttpsServer::Options o = DeviceOptions();
  o.body_limit = [](std::string_view, std::string_view path) {
    return path == "/big" ? size_t{2 << 20} : size_t{64 << 10};
  };
  Start(o);
  TempDir dir;
  ASSERT_TRUE(AtomicReplace(dir.Join("body"), std::string(1 << 20, 'b')).ok());
  auto curl = [&](const std::string& path) {
    return RunProcess({"curl", "-sS", "-v", "--cacert", File("ca.crt"),
                       "--cert", File("client.crt"), "--key",
                       File("client.key"), "-H", "Expect: 100-continue",
                       "--data-binary", "@" + dir.Join("body"), "-o",
                       dir.Join("out"), "-w", "%{http_code}", base_ + path});
  };
  auto r = curl("/big");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->success()) << r->err;
  EXPECT_EQ(r->out, "200");
  EXPECT_NE(r->err.find("< HTTP/1.1 100 Continue"), std::string::npos)
      << r->err;
  auto out = ReadFile(dir.Join("out"), 1 << 20);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(json::parse(*out)["body_size"], 1 << 20);

  // Too large: 413 at once, no 100, the body never sent.
  r = curl("/small");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out, "413") << r->err;
  EXPECT_EQ(r->err.find("100 Continue"), std::string::npos) << r->err;

  auto client = Raw();
  ASSERT_TRUE(client
                  ->Send("POST /small HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 10485760\r\n"
                         "Expect: 100-continue\r\n\r\n")
                  .ok());
  auto resp = client->ReadResponse();
  ASSERT_TRUE(resp.ok()) << resp.status().message();
  EXPECT_EQ(resp->status, 413);
}

TEST_F(HttpsServerTest, SlowlorisIsCutWhileOthersAreServed) {
  HttpsServer::Options o = DeviceOptions();
  o.header_timeout = milliseconds(1500);
  Start(o);
  auto slow = Raw();
  std::string request = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
  auto first_byte = std::chrono::steady_clock::now();
  std::optional<ParsedResponse> cut;
  // A byte every 250 ms, the next one only if the server said nothing.
  std::thread others([&] {
    auto curl = Curl();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(Get(*curl, "/fast"), 200);
  });
  for (size_t i = 0; i < request.size(); ++i) {
    ASSERT_TRUE(slow->Send(request.substr(i, 1)).ok());
    if (slow->WaitReadable(milliseconds(250))) {
      auto r = slow->ReadResponse();
      ASSERT_TRUE(r.ok()) << r.status().message();
      cut = *r;
      break;
    }
  }
  others.join();
  ASSERT_TRUE(cut.has_value()) << "never cut";
  auto elapsed = std::chrono::steady_clock::now() - first_byte;
  EXPECT_EQ(cut->status, 408);
  EXPECT_EQ(json::parse(cut->body)["description"],
            "request header not received within 1500ms");
  EXPECT_GE(elapsed, milliseconds(1400));
  EXPECT_LT(elapsed, milliseconds(5000));
  EXPECT_TRUE(slow->WaitClosed());
  EXPECT_EQ(server_->counters().limit_refusals, 1u);
  EXPECT_EQ(server_->counters().requests, 20u);
}

TEST_F(HttpsServerTest, IdleAndHandshakeTimeouts) {
  HttpsServer::Options o = DeviceOptions();
  o.idle_timeout = milliseconds(300);
  o.handshake_timeout = milliseconds(300);
  Start(o);
  auto idle = Raw();
  ASSERT_TRUE(idle->Send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ASSERT_TRUE(idle->ReadResponse().ok());
  EXPECT_TRUE(idle->WaitClosed());  // after 300 ms of keep-alive
  TestClient silent(File("ca.crt"), "", "");
  ASSERT_TRUE(silent.Connect(server_->port()).ok());
  EXPECT_TRUE(silent.WaitClosed(milliseconds(5000), true));
  EXPECT_TRUE(WaitFor([&] {
    return sink_->Count("TLS handshake not done within 300ms") == 1;
  }));
  EXPECT_EQ(server_->counters().handshake_failures, 1u);
}

TEST_F(HttpsServerTest, AClientThatDoesNotReadIsCut) {
  HttpsServer::Options o = DeviceOptions();
  o.write_timeout = milliseconds(500);
  Start(o);
  auto client = Raw();
  ASSERT_TRUE(client->Send("GET /huge HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  EXPECT_TRUE(WaitFor(
      [&] { return sink_->Count("response not taken within 500ms") == 1; }));
  EXPECT_TRUE(
      WaitFor([&] { return server_->counters().connections_open == 0; }));
  EXPECT_EQ(server_->counters().limit_refusals, 1u);
}

TEST_F(HttpsServerTest, GarbageIsRefusedAndTheServerServesOn) {
  Start(DeviceOptions());
  // Plain HTTP to a TLS port.
  TestClient plain(File("ca.crt"), "", "");
  ASSERT_TRUE(plain.Connect(server_->port()).ok());
  ASSERT_TRUE(plain.SendPlain("GET / HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  EXPECT_TRUE(plain.WaitClosed(milliseconds(5000), true));
  // Random bytes.
  TestClient junk(File("ca.crt"), "", "");
  ASSERT_TRUE(junk.Connect(server_->port()).ok());
  std::string bytes;
  for (int i = 0; i < 4096; ++i) bytes += static_cast<char>((i * 7919) & 0xff);
  (void)junk.SendPlain(bytes);  // may fail: the server hangs up early
  EXPECT_TRUE(junk.WaitClosed(milliseconds(5000), true));
  EXPECT_TRUE(
      WaitFor([&] { return server_->counters().handshake_failures == 2; }));
  EXPECT_EQ(sink_->Count("TLS handshake failed: http request"), 1u);
  // TLS, then something that is not HTTP.
  auto tls = Raw();
  ASSERT_TRUE(tls->Send(std::string("\x00\x01\x02 junk\r\n\r\n", 12)).ok());
  auto r = tls->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(tls->WaitClosed());
  // A malformed percent-escape.
  auto bad = Raw();
  ASSERT_TRUE(bad->Send("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  r = bad->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["description"], "malformed percent-escape");
  EXPECT_EQ(server_->counters().bad_requests, 2u);
  EXPECT_EQ(Get(*Curl(), "/still-serving"), 200);
}

TEST_F(HttpsServerTest, MaxConnections) {
  HttpsServer::Options o = DeviceOptions();
  o.max_connections = 2;
  Start(o);
  auto a = Raw();
  auto b = Raw();
  ASSERT_TRUE(
      WaitFor([&] { return server_->counters().connections_open == 2; }));
  TestClient c(File("ca.crt"), File("client.crt"), File("client.key"));
  ASSERT_TRUE(c.Connect(server_->port()).ok());
  EXPECT_FALSE(c.Handshake().ok());
  EXPECT_EQ(server_->counters().connections_refused, 1u);
  EXPECT_TRUE(WaitFor([&] {
    return sink_->Count("refused: 2 connections open (max_connections)") == 1;
  }));
  a->Close();
  ASSERT_TRUE(
      WaitFor([&] { return server_->counters().connections_open == 1; }));
  auto d = Raw();
  ASSERT_TRUE(d->Send("GET /d HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  auto r = d->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpsServerTest, RefusalsAreLoggedAtMostOncePerIntervalPerKind) {
  HttpsServer::Options o = DeviceOptions();
  o.refusal_log_interval = milliseconds(1000);
  Start(o);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    TestClient plain(File("ca.crt"), "", "");
    ASSERT_TRUE(plain.Connect(server_->port()).ok());
    ASSERT_TRUE(plain.SendPlain("GET / HTTP/1.1\r\n\r\n").ok());
    EXPECT_TRUE(plain.WaitClosed(milliseconds(5000), true));
  }
  ASSERT_TRUE(
      WaitFor([&] { return server_->counters().handshake_failures == 10; }));
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  size_t lines = sink_->Count("TLS handshake failed");
  EXPECT_GE(lines, 1u);
  EXPECT_LE(lines, static_cast<size_t>(seconds) + 2);  // not 10
  // A window later, the next line tells how many were not logged.
  std::this_thread::sleep_for(milliseconds(1100));
  TestClient plain(File("ca.crt"), "", "");
  ASSERT_TRUE(plain.Connect(server_->port()).ok());
  ASSERT_TRUE(plain.SendPlain("GET / HTTP/1.1\r\n\r\n").ok());
  EXPECT_TRUE(plain.WaitClosed(milliseconds(5000), true));
  EXPECT_TRUE(WaitFor([&] { return sink_->Count("more not logged)") == 1; }));
}

// ---- Timers and Stop
// ----------------------------------------------------------

TEST_F(HttpsServerTest, TimersAndPost) {
  Start(DeviceOptions());
  Mailbox<std::string> ran;
  server_->Post([&] { ran.Push("post"); });
  EXPECT_EQ(ran.Pop(), "post");
  TimerHandle cancelled =
      server_->RunAfter(milliseconds(50), [&] { ran.Push("cancelled"); });
  cancelled.Cancel();
  {
    TimerHandle dropped =
        server_->RunAfter(milliseconds(50), [&] { ran.Push("dropped"); });
  }
  TimerHandle kept =
      server_->RunAfter(milliseconds(200), [&] { ran.Push("kept"); });
  EXPECT_EQ(ran.Pop(), "kept");
  EXPECT_EQ(ran.size(), 0u);
}

TEST_F(HttpsServerTest, StopWithPendingLongPollsAndOpenConnections) {
  Start(DeviceOptions());
  Mailbox<int> cancelled;
  std::vector<std::unique_ptr<TestClient>> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(Raw());
  std::vector<std::unique_ptr<TestClient>> polling;
  std::vector<Responder> pending;
  for (int i = 0; i < 2; ++i) {
    polling.push_back(Raw());
    ASSERT_TRUE(
        polling.back()->Send("GET /poll HTTP/1.1\r\nHost: x\r\n\r\n").ok());
    std::optional<Responder> r = polls_.Pop();
    ASSERT_TRUE(r.has_value());
    r->OnCancel([&] { cancelled.Push(1); });
    pending.push_back(std::move(*r));
  }
  Mailbox<int> fired;
  TimerHandle timer =
      server_->RunAfter(milliseconds(100000), [&] { fired.Push(1); });
  server_->Stop();
  EXPECT_EQ(cancelled.size(), 2u);  // ran before Stop() returned
  for (auto& r : pending) EXPECT_TRUE(r.cancelled());
  for (auto& c : idle) EXPECT_TRUE(c->WaitClosed());
  for (auto& c : polling) EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(server_->counters().connections_open, 0u);
  // After Stop: everything is a harmless no-op.
  pending[0].Respond(Response::Json(200, "{}"));
  server_->Post([&] { fired.Push(2); });
  TimerHandle late = server_->RunAfter(milliseconds(1), [&] { fired.Push(3); });
  server_->Stop();
  server_.reset();
  // Responders and timer handles outliving the server.
  pending.clear();
  timer.Cancel();
  EXPECT_EQ(fired.size(), 0u);
}

TEST_F(HttpsServerTest, ManyClientsAtOnce) {
  Start(DeviceOptions());
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto curl = Curl();
      for (int i = 0; i < 25; ++i) {
        if (Get(*curl, "/ras/sessions") == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
  EXPECT_EQ(server_->counters().connections_accepted, 8u);
}

}  // namespace
}  // namespace porthole::httpd
